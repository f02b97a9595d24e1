"""The server's parts on their own: the seeded fault injector and the package's export."""

from __future__ import annotations

import pytest

from etl.sandbox.server import SandboxServer
from etl.sandbox.server.app import SandboxServer as AppSandboxServer
from etl.sandbox.server.faults import FAULT_KINDS, FaultInjector


def test_package_exports_the_server() -> None:
    assert SandboxServer is AppSandboxServer


def test_fault_draws_are_seeded_and_counted() -> None:
    first = FaultInjector(0.5, seed=7, slow_reply_seconds=(0.0, 0.0))
    second = FaultInjector(0.5, seed=7, slow_reply_seconds=(0.0, 0.0))
    draws = [first.draw() for _ in range(200)]
    assert draws == [second.draw() for _ in range(200)]
    faults = [d for d in draws if d is not None]
    assert 0 < len(faults) < 200
    counts = first.counts()
    assert set(counts) == set(FAULT_KINDS)
    assert sum(counts.values()) == len(faults)


def test_no_faults_at_rate_zero_and_rate_checked() -> None:
    injector = FaultInjector(0.0, seed=1, slow_reply_seconds=(1.0, 2.0))
    assert all(injector.draw() is None for _ in range(50))
    assert sum(injector.counts().values()) == 0
    with pytest.raises(ValueError, match="fault_rate"):
        FaultInjector(1.5, seed=1, slow_reply_seconds=(1.0, 2.0))
