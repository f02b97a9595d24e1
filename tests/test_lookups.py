"""Customer references (integer id, Stripe id, external id, email) resolved to one row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from etl.db.engine import transaction
from etl.db.lookups import CUSTOMERS, resolve_customer, resolve_customers

NOW = datetime(2026, 1, 1)


def _add(conn, **kw):  # type: ignore[no-untyped-def]
    row = {"source": "stripe", "deleted": False, "updated_at": NOW, **kw}
    return conn.execute(CUSTOMERS.insert().values(**row)).inserted_primary_key[0]


def test_lookup_by_every_kind_of_reference(engine: Engine) -> None:
    with transaction(engine) as conn:
        a = _add(
            conn, stripe_id="cus_A", extra_id="team-x", email="Ann@Ex.com", email_key="ann@ex.com"
        )
        b = _add(
            conn, stripe_id="cus_B", extra_id="team-x", email="bob@ex.com", email_key="bob@ex.com"
        )
        c = _add(conn, stripe_id=None, source="api", email="c@ex.com", email_key="c@ex.com")
    with engine.connect() as conn:
        assert resolve_customer(conn, str(b)).id == b
        assert resolve_customer(conn, b).id == b
        assert resolve_customer(conn, "cus_A").id == a
        assert resolve_customer(conn, "team-x").id == min(a, b)
        assert resolve_customer(conn, "ANN@ex.com").id == a
        assert resolve_customer(conn, "nobody@ex.com") is None
        assert resolve_customer(conn, "cus_missing") is None
        assert resolve_customer(conn, "") is None
        assert resolve_customer(conn, "\u00b9") is None  # a digit to str.isdigit, not to int()
        got = resolve_customers(conn, [str(c), "cus_B", "team-x", "Bob@Ex.com", "zzz", "\u00b2"])
    assert got == {str(c): c, "cus_B": b, "team-x": min(a, b), "Bob@Ex.com": b}
