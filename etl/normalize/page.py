"""A page of Stripe objects (any mix of types) → rows by table and raw rows, ready to write.

The writer thread of a full load does nothing but SQL, so a page is prepared beforehand,
in a fetching thread or a worker process (`etl.sync.pipeline`): `prepare_page` is pure
and its result picklable. An object that cannot be normalized is stored raw, flagged
malformed and counted, and the page goes on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.logs import get_logger
from etl.normalize import objects as n
from etl.normalize.content import raw_rows

log = get_logger("etl.sync")


@dataclass
class PageResult:
    """What one page wrote: counts per object type, malformed ids, touched invoices."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    malformed: list[str] = field(default_factory=list)
    invoice_ids: list[str] = field(default_factory=list)
    deleted_invoice_ids: list[str] = field(default_factory=list)
    unexpanded_discounts: dict[str, list[str]] = field(default_factory=dict)

    def merge(self, other: PageResult) -> None:
        for k, v in other.counts.items():
            self.counts[k] += v
        self.malformed.extend(other.malformed)
        self.invoice_ids.extend(other.invoice_ids)
        self.deleted_invoice_ids.extend(other.deleted_invoice_ids)
        self.unexpanded_discounts.update(other.unexpanded_discounts)


@dataclass
class PageBatch:
    """A page's normalized rows by table, and what the writer deletes or replaces."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Ids of objects deleted in Stripe whose rows are marked deleted, by table.
    deleted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    deleted_invoices: list[str] = field(default_factory=list)
    # Invoices that carry all their lines: stored lines not among them are stale.
    complete_invoices: list[str] = field(default_factory=list)
    # Subscriptions that carry all their items: the same for items.
    sub_ids: list[str] = field(default_factory=list)


@dataclass
class PreparedPage:
    """A page normalized and serialized, ready to be written (built off the writer thread)."""

    batch: PageBatch
    raw: list[dict[str, Any]]
    result: PageResult


def _row_or_deleted(batch: PageBatch, table: str, row: dict[str, Any]) -> None:
    # A deleted object normalizes to its id and `deleted` alone.
    if row.get("deleted") and len(row) == 2:
        batch.deleted[table].append(row["id"])
    else:
        batch.rows[table].append(row)


def _add_rows(batch: PageBatch, norm: n.Normalized, oid: str, res: PageResult) -> None:
    for table, rows in norm.rows.items():
        batch.rows[table].extend(rows)
    if norm.unexpanded_discounts:
        res.unexpanded_discounts[oid] = norm.unexpanded_discounts


def _subscription(batch: PageBatch, obj: Mapping[str, Any], res: PageResult, _key: str) -> None:
    _add_rows(batch, n.normalize_subscription(obj), obj["id"], res)
    batch.sub_ids.append(obj["id"])


def _invoice(batch: PageBatch, obj: Mapping[str, Any], res: PageResult, _key: str) -> None:
    if obj.get("deleted"):
        batch.deleted_invoices.append(obj["id"])
        return
    norm = n.normalize_invoice(obj)
    inv = norm.rows["invoices"][0]
    if inv["lines_complete"]:
        batch.complete_invoices.append(inv["id"])
    _add_rows(batch, norm, obj["id"], res)


# (batch, object, the page's result, the metadata key of customers' extra id)
Adder = Callable[[PageBatch, Mapping[str, Any], PageResult, str], None]

# Object type -> how its rows join the batch: one entry per type of `etl.extract.types`.
ADDERS: dict[str, Adder] = {
    "customer": lambda b, o, _r, key: b.rows["customers"].append(n.normalize_customer(o, key)),
    "product": lambda b, o, _r, _k: _row_or_deleted(b, "products", n.normalize_product(o)),
    "price": lambda b, o, _r, _k: b.rows["plans"].append(n.normalize_price(o)),
    "plan": lambda b, o, _r, _k: b.rows["plans"].append(n.normalize_price(o)),
    "coupon": lambda b, o, _r, _k: _row_or_deleted(b, "coupons", n.normalize_coupon(o)),
    "subscription": _subscription,
    "invoice": _invoice,
    "invoiceitem": lambda b, o, _r, _k: _row_or_deleted(
        b, "invoice_items", n.normalize_invoice_item(o)
    ),
    "credit_note": lambda b, o, _r, _k: b.rows["credit_notes"].append(n.normalize_credit_note(o)),
    "refund": lambda b, o, _r, _k: b.rows["refunds"].append(n.normalize_refund(o)),
}


def _require_id(obj: object) -> None:
    if not isinstance(obj, Mapping) or not obj.get("id"):
        raise n.Malformed("object without an id")


def normalize_into(
    batch: PageBatch, obj: Mapping[str, Any], extra_id_key: str, res: PageResult
) -> None:
    """The object's rows into the batch; raises `Malformed` for an unknown type."""
    otype = obj.get("object")
    add = ADDERS.get(otype) if isinstance(otype, str) else None
    if add is None:
        raise n.Malformed(f"unknown object type {otype!r}")
    add(batch, obj, res, extra_id_key)


def prepare_page(
    objects: Sequence[Mapping[str, Any]],
    *,
    run_id: int | None = None,
    source: str = "list",
    api_version: str | None = None,
    extra_id_key: str = "extra_id",
) -> PreparedPage:
    """Normalize a page and build its raw rows. Pure: no I/O, safe in any thread."""
    res = PageResult()
    batch = PageBatch()
    raw: list[tuple[Mapping[str, Any], bool]] = []
    for obj in objects:
        try:
            _require_id(obj)
            normalize_into(batch, obj, extra_id_key, res)
            raw.append((obj, False))
            res.counts[str(obj.get("object"))] += 1
        except (n.Malformed, KeyError, TypeError, ValueError, AttributeError) as exc:
            oid = obj.get("id") if isinstance(obj, Mapping) else None
            otype = obj.get("object") if isinstance(obj, Mapping) else None
            log.warning("malformed_object", object_type=otype, id=oid, problem=str(exc))
            res.malformed.append(str(oid))
            raw.append(
                (
                    obj if isinstance(obj, Mapping) else {"object": "unknown", "value": repr(obj)},
                    True,
                )
            )
    rows = raw_rows(raw, run_id=run_id, source=source, api_version=api_version)
    return PreparedPage(batch, rows, res)
