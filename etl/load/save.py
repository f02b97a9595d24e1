"""Writing a page of Stripe objects: the raw layer and the normalized tables. Only writes.

`write_page` takes one prepared page (`etl.normalize.page`, any mix of types) and writes
it inside the caller's transaction, set-based: one statement per table per page,
whatever the page holds, customers and the catalogue before what refers to them. The
caller commits the page together with the cursor that follows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, select, tuple_, update

from etl.db import tables
from etl.load.catalogue import upsert_plans
from etl.load.customers import ensure_customers, upsert_customers
from etl.load.raw import save_raw_rows
from etl.load.statements import mark_deleted, upsert
from etl.normalize.page import PageBatch, PageResult, PreparedPage, prepare_page

# The tables whose rows name their customer by Stripe id, mapped to customers.id here.
_CUSTOMER_REFS = (
    "subscriptions",
    "invoices",
    "discounts",
    "invoice_items",
    "credit_notes",
    "refunds",
)


def write_page(conn: Connection, page: PreparedPage, now: datetime) -> PageResult:
    """Write a prepared page, set-based, in the caller's transaction."""
    save_raw_rows(conn, page.raw, now)
    _write_batch(conn, page.batch, now, page.result)
    return page.result


def save_objects(
    conn: Connection,
    objects: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    run_id: int | None = None,
    source: str = "list",
    api_version: str | None = None,
    extra_id_key: str = "extra_id",
) -> PageResult:
    """Write one page: raw versions, then normalized rows, set-based, in the caller's transaction."""
    page = prepare_page(
        objects, run_id=run_id, source=source, api_version=api_version, extra_id_key=extra_id_key
    )
    return write_page(conn, page, now)


def _stamped(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    return [{**r, "updated_at": now} for r in rows]


def _map_customers(
    rows: list[dict[str, Any]], mapping: Mapping[str, int], *, keep_stripe_id: bool
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        r = dict(row)
        sid = r["stripe_customer_id"] if keep_stripe_id else r.pop("stripe_customer_id")
        r["customer_id"] = mapping.get(sid) if sid else None
        out.append(r)
    return out


def _write_batch(conn: Connection, b: PageBatch, now: datetime, res: PageResult) -> None:
    rows = b.rows
    _write_catalogue(conn, b, now)
    refs: set[str | None] = set()
    for table in _CUSTOMER_REFS:
        refs.update(r.get("stripe_customer_id") for r in rows.get(table, []))
    mapping = ensure_customers(conn, refs, now)
    if rows.get("subscriptions"):
        _write_subscriptions(conn, b, mapping, now, res)
    if b.deleted_invoices:
        _delete_invoices(conn, b.deleted_invoices)
        res.deleted_invoice_ids.extend(b.deleted_invoices)
    if rows.get("invoices"):
        _write_invoices(conn, b, mapping, now, res)
    if rows.get("discounts"):
        disc = _map_customers(rows["discounts"], mapping, keep_stripe_id=False)
        merged = {r["id"]: {**r, "updated_at": now} for r in disc}
        # A discount row is a function of the discount object alone, whoever carried it.
        upsert(conn, tables.discounts, list(merged.values()))
    _upsert_mapped(conn, tables.invoice_items, rows.get("invoice_items"), mapping, now)
    mark_deleted(conn, tables.invoice_items, b.deleted.get("invoice_items", []), now)
    _upsert_mapped(conn, tables.credit_notes, rows.get("credit_notes"), mapping, now)
    if rows.get("refunds"):
        refunds = _map_customers(rows["refunds"], mapping, keep_stripe_id=False)
        upsert(conn, tables.refunds, _stamped(_keep_known_links(conn, refunds), now))


def _keep_known_links(conn: Connection, refunds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A payload that lacks a refund's customer or invoice (refunds rendered in API
    versions before 2026-10-28 name no customer) keeps the stored link: a missing field
    is not news that the link is gone."""
    r = tables.refunds.c
    ids = [row["id"] for row in refunds if row["customer_id"] is None or row["invoice_id"] is None]
    if not ids:
        return refunds
    stored = {
        rid: (cust, inv)
        for rid, cust, inv in conn.execute(
            select(r.id, r.customer_id, r.invoice_id).where(r.id.in_(ids))
        )
    }
    out = []
    for row in refunds:
        cust, inv = stored.get(row["id"], (None, None))
        out.append(
            {
                **row,
                "customer_id": row["customer_id"] if row["customer_id"] is not None else cust,
                "invoice_id": row["invoice_id"] if row["invoice_id"] is not None else inv,
            }
        )
    return out


def _upsert_mapped(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]] | None,
    mapping: Mapping[str, int],
    now: datetime,
) -> None:
    """Rows naming their customer by Stripe id, upserted with `customer_id` instead."""
    if rows:
        upsert(conn, table, _stamped(_map_customers(rows, mapping, keep_stripe_id=False), now))


def _write_catalogue(conn: Connection, b: PageBatch, now: datetime) -> None:
    """Customers, products, plans and coupons: what other rows refer to, first."""
    rows = b.rows
    if rows.get("customers"):
        upsert_customers(conn, rows["customers"], now)
    if rows.get("products"):
        upsert(conn, tables.products, _stamped(rows["products"], now))
    mark_deleted(conn, tables.products, b.deleted.get("products", []), now)
    if rows.get("plans"):
        upsert_plans(conn, rows["plans"], now)
    if rows.get("coupons"):
        upsert(conn, tables.coupons, _stamped(rows["coupons"], now))
    mark_deleted(conn, tables.coupons, b.deleted.get("coupons", []), now)


def _write_subscriptions(
    conn: Connection, b: PageBatch, mapping: Mapping[str, int], now: datetime, res: PageResult
) -> None:
    """Subscriptions and their items; items no longer on a subscription are deleted."""
    subs = _map_customers(b.rows["subscriptions"], mapping, keep_stripe_id=True)
    _fill_coupons_from_known_discounts(conn, subs, res.unexpanded_discounts)
    upsert(conn, tables.subscriptions, _stamped(subs, now))
    items = _stamped(b.rows.get("subscription_items", []), now)
    si = tables.subscription_items.c
    conn.execute(
        delete(tables.subscription_items).where(
            si.subscription_id.in_(b.sub_ids), si.id.not_in([r["id"] for r in items])
        )
    )
    upsert(conn, tables.subscription_items, items)


def _delete_invoices(conn: Connection, ids: list[str]) -> None:
    """Deleted drafts go, with their lines and the discounts applied to them."""
    conn.execute(delete(tables.invoice_lines).where(tables.invoice_lines.c.invoice_id.in_(ids)))
    conn.execute(delete(tables.discounts).where(tables.discounts.c.invoice_id.in_(ids)))
    conn.execute(
        delete(tables.invoices).where(
            tables.invoices.c.id.in_(ids), tables.invoices.c.source == "stripe"
        )
    )


def _write_invoices(
    conn: Connection, b: PageBatch, mapping: Mapping[str, int], now: datetime, res: PageResult
) -> None:
    """Invoices and their lines; of an invoice that carries all its lines, the stored
    lines not among them are deleted."""
    invs = _map_customers(b.rows["invoices"], mapping, keep_stripe_id=True)
    upsert(conn, tables.invoices, _stamped(invs, now))
    by_invoice = {r["id"]: r["customer_id"] for r in invs}
    lines = [
        {**r, "customer_id": by_invoice.get(r["invoice_id"]), "updated_at": now}
        for r in b.rows.get("invoice_lines", [])
    ]
    if b.complete_invoices:
        il = tables.invoice_lines.c
        kept = [(r["invoice_id"], r["id"]) for r in lines]
        conn.execute(
            delete(tables.invoice_lines).where(
                il.invoice_id.in_(b.complete_invoices), tuple_(il.invoice_id, il.id).not_in(kept)
            )
        )
    upsert(conn, tables.invoice_lines, lines)
    res.invoice_ids.extend(by_invoice)
    _attach_invoice_items(conn, lines)


def _attach_invoice_items(conn: Connection, lines: list[dict[str, Any]]) -> None:
    """An invoice's lines name the invoice items it billed: Stripe sends no event for an
    item being invoiced, so the link is taken from the invoice."""
    pairs = [
        {"ii": r["invoice_item_id"], "inv": r["invoice_id"]}
        for r in lines
        if r.get("invoice_item_id")
    ]
    if pairs:
        conn.execute(
            update(tables.invoice_items)
            .where(
                tables.invoice_items.c.id == bindparam("ii"),
                tables.invoice_items.c.invoice_id.is_distinct_from(bindparam("inv")),
            )
            .values(invoice_id=bindparam("inv")),
            pairs,
        )


def _fill_coupons_from_known_discounts(
    conn: Connection, subs: list[dict[str, Any]], bare: Mapping[str, list[str]]
) -> None:
    """Event payloads name discounts by id: take the coupon from the stored discount."""
    wanted = {sid: ids[0] for sid, ids in bare.items() if ids}
    todo = [r for r in subs if r["coupon_id"] is None and r["id"] in wanted]
    if not todo:
        return
    found = dict(
        conn.execute(
            select(tables.discounts.c.id, tables.discounts.c.coupon_id).where(
                tables.discounts.c.id.in_({wanted[r["id"]] for r in todo})
            )
        ).all()
    )
    for r in todo:
        r["coupon_id"] = found.get(wanted[r["id"]])


def link_refunds(conn: Connection) -> None:
    """Refunds name a payment intent; the invoice it paid (and its customer) is found here,
    set-based, whichever of the two arrived first."""
    r, i = tables.refunds.c, tables.invoices.c
    # Looked up by payment intent alone, the source checked here: with `source` in the
    # same WHERE, SQLite's planner picked the (source, created) index and scanned every
    # invoice once per refund (over a minute at 80,000 invoices).
    pending = conn.execute(
        select(r.id, r.payment_intent_id).where(
            r.invoice_id.is_(None), r.payment_intent_id.is_not(None)
        )
    ).all()
    intents = sorted({pi for _rid, pi in pending})
    paid_by: dict[str, tuple[Any, str]] = {}
    for start in range(0, len(intents), 5000):
        rows = conn.execute(
            select(i.payment_intent_id, i.created, i.id, i.source).where(
                i.payment_intent_id.in_(intents[start : start + 5000])
            )
        ).all()
        for pi, created, iid, source in rows:
            if source != "stripe":
                continue
            # Of several invoices paid by one intent (not seen in practice), the oldest.
            order = (created is None, created or datetime.min, iid)
            if pi not in paid_by or order < paid_by[pi][0]:
                paid_by[pi] = (order, iid)
    links = [{"rid": rid, "inv": paid_by[pi][1]} for rid, pi in pending if pi in paid_by]
    if links:
        conn.execute(
            update(tables.refunds)
            .where(r.id == bindparam("rid"), r.invoice_id.is_(None))
            .values(invoice_id=bindparam("inv")),
            links,
        )
    cust = select(i.customer_id).where(i.id == r.invoice_id).limit(1).scalar_subquery()
    conn.execute(
        update(tables.refunds)
        .where(r.customer_id.is_(None), r.invoice_id.is_not(None), cust.is_not(None))
        .values(customer_id=cust)
    )
