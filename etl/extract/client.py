"""Building the one StripeClient. The API version is pinned here and nowhere else."""

from __future__ import annotations

import stripe

from etl.config import ConfigError, Settings

# The version stripe-python 16.1 is generated for; objects parse into its classes.
API_VERSION = "2026-10-28.endive"
# The SDK retries connection errors and 5xx itself; 429s are retried by our own
# rate-limit layer (tenacity), so that each concern has one retry level.
SDK_NETWORK_RETRIES = 2


def build_stripe_client(
    settings: Settings, *, max_network_retries: int = SDK_NETWORK_RETRIES
) -> stripe.StripeClient:
    key = settings.stripe_api_key
    if key is None:
        raise ConfigError("STRIPE_API_KEY", "is not set (a secret sk_… or restricted rk_… key)")
    base_addresses: dict[str, str] = {}
    if settings.stripe_api_base:
        base_addresses = {"api": settings.stripe_api_base}
    return stripe.StripeClient(
        key.get_secret_value(),
        stripe_version=API_VERSION,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=max_network_retries,
    )
