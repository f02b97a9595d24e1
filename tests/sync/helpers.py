"""Shared helpers of the sync tests: sandbox servers, SDK clients, table snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import stripe
from sqlalchemy import Engine, text

from etl.config import Settings, load_settings
from etl.extract.client import API_VERSION
from etl.sandbox.server.app import SandboxServer
from etl.sandbox.simulation.generator import generate_account
from etl.sync.runner import SyncOptions, SyncSummary
from jobs.sync import sync_then_recompute

# Every normalized table, with the columns that say nothing about Stripe's data
# (surrogate ids, bookkeeping times) left out of comparisons.
NORMALIZED = (
    "customers",
    "products",
    "plans",
    "coupons",
    "subscriptions",
    "subscription_items",
    "discounts",
    "invoices",
    "invoice_lines",
    "invoice_items",
    "credit_notes",
    "refunds",
)
IGNORED = {"updated_at", "id"}
KEEP_ID = {t for t in NORMALIZED if t != "customers"}


def sdk_client(base_url: str, key: str = "sk_test_sync", retries: int = 2) -> stripe.StripeClient:
    return stripe.StripeClient(
        key,
        base_addresses={"api": base_url},
        stripe_version=API_VERSION,
        max_network_retries=retries,
    )


def settings_for(db_url: str, base_url: str, key: str = "sk_test_sync") -> Settings:
    return load_settings(database_url=db_url, stripe_api_key=key, stripe_api_base=base_url)


@contextmanager
def sandbox(
    customers: int = 40,
    months: int = 9,
    seed: int = 7,
    **server_kwargs: Any,
) -> Iterator[SandboxServer]:
    acct = generate_account(seed=seed, customers=customers, months=months)
    with SandboxServer(acct, **server_kwargs) as srv:
        yield srv


def sync(engine: Engine, srv: SandboxServer, *, retries: int = 2, **options: Any) -> SyncSummary:
    assert srv.base_url is not None
    options.setdefault("unlimited", True)
    options.setdefault("progress", False)
    options.setdefault("workers", 4)
    recompute = options.pop("recompute", True)
    return sync_then_recompute(
        engine,
        sdk_client(srv.base_url, retries=retries),
        settings_for(str(engine.url), srv.base_url),
        SyncOptions(**options),
        recompute=recompute,
    )


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """All normalized rows, with integer customer ids replaced by Stripe ids, sorted.

    Deleted Stripe customers compare by (Stripe id, deleted) only: Stripe no longer
    lists or returns their details, so a fresh load cannot know what an earlier one saw.
    """
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        sid_of = dict(conn.execute(text("SELECT id, stripe_id FROM customers")).all())
        for table in NORMALIZED:
            # S608: table is a name of NORMALIZED, never a value.
            result = conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            cols = list(result.keys())
            rows = []
            for r in result:
                rec = dict(zip(cols, r, strict=True))
                if table == "customers" and rec["deleted"]:
                    rows.append(("deleted", rec["stripe_id"]))
                    continue
                if "customer_id" in rec:
                    rec["customer_id"] = sid_of.get(rec["customer_id"])
                keep = [c for c in cols if c not in IGNORED or (c == "id" and table in KEEP_ID)]
                rows.append(tuple((c, _plain(rec[c])) for c in keep))
            out[table] = sorted(rows, key=repr)
    return out


def _plain(v: Any) -> Any:
    """One spelling per value whichever backend returned it."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, Decimal | float):
        return str(Decimal(str(v)).normalize())
    return v


def diff(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> dict[str, Any]:
    """Per table: rows only in a, rows only in b (first few), for readable failures."""
    out = {}
    for t, rows_a in a.items():
        sa, sb = set(rows_a), set(b[t])
        if sa != sb:
            out[t] = {
                "only_a": sorted(sa - sb, key=repr)[:3],
                "only_b": sorted(sb - sa, key=repr)[:3],
            }
    return out


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        # S608: t is a table name of NORMALIZED, never a value.
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
            for t in NORMALIZED
        }
