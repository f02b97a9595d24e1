"""Sandbox servers and real `stripe` SDK clients pointed at them (imported by test_server*.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from etl.extract.client import API_VERSION
from etl.sandbox.server.app import SandboxServer
from tests.sandbox.fake_account import FakeAccount


def sdk_client(
    base_url: str, *, retries: int = 0, key: str = "sk_test_sandbox"
) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": base_url},
        stripe_version=API_VERSION,
        max_network_retries=retries,
    )


@pytest.fixture(scope="module")
def fake_account() -> FakeAccount:
    return FakeAccount()


@pytest.fixture(scope="module")
def server(fake_account: FakeAccount) -> Iterator[SandboxServer]:
    with SandboxServer(fake_account) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> stripe.StripeClient:
    assert server.base_url is not None
    return sdk_client(server.base_url)
