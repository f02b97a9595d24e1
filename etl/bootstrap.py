"""The composition root: settings, engine and clients are built here, once, and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from etl.config import Settings, load_settings
from etl.db.engine import make_engine
from etl.logs import configure_logging

if TYPE_CHECKING:
    import stripe


@dataclass
class Container:
    settings: Settings
    engine: Engine
    _stripe: Any = field(default=None, repr=False)

    @property
    def stripe(self) -> stripe.StripeClient:
        """Built on first use, so commands that never call Stripe need no key."""
        if self._stripe is None:
            # Lazy: the Stripe SDK loads only for a command that calls Stripe.
            from etl.extract.client import build_stripe_client  # noqa: PLC0415

            self._stripe = build_stripe_client(self.settings)
        client: stripe.StripeClient = self._stripe
        return client

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None,
    *,
    configure_logs: bool = True,
    stripe_client: Any = None,
) -> Container:
    settings = settings if settings is not None else load_settings()
    if configure_logs:
        configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.db_url)
    return Container(settings=settings, engine=engine, _stripe=stripe_client)
