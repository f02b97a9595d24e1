"""Writing Stripe objects: the raw layer and the normalized tables. Only writes, never fetches.

`save_objects` takes one page of objects (any mix of types) and writes it inside the
caller's transaction, set-based: one statement per table per page, whatever the page
holds. The caller commits the page together with the cursor that follows it.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)

from etl.db import tables
from etl.db.upsert import _insert_for
from etl.logs import get_logger
from etl.normalize import objects as n

log = get_logger("etl.sync")

T_RAW = tables.raw_objects

# Dependency order: customers and the catalogue before what refers to them.
TYPE_ORDER = (
    "customer",
    "product",
    "price",
    "plan",
    "coupon",
    "subscription",
    "invoice",
    "invoiceitem",
    "credit_note",
    "refund",
)
KNOWN_TYPES = frozenset(TYPE_ORDER)


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


def content_json(obj: Mapping[str, Any]) -> str:
    # Stripe's key order is stable for an API version, so the text as received (compact)
    # identifies a version; sorting keys would double the cost of the raw layer.
    return content_bytes(obj).decode()


def content_bytes(obj: Mapping[str, Any]) -> bytes:
    """`json.dumps(obj, separators=(",", ":"))` as bytes, by orjson (several times faster)
    made to write the same text: non-ASCII characters and DEL escaped as json escapes
    them. Where the two may still differ (floats below 1e-4, which they write in
    different notations; integers beyond 64 bits) the stdlib, so that stored hashes
    stay comparable."""
    try:
        out = orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()
    if not out.isascii():
        out = out.decode().encode("ascii", _JSON_ESCAPE)
    if b"\x7f" in out:
        out = out.replace(b"\x7f", b"\\u007f")
    # (The substring tests first: the pattern alone would cost more than the dumps.)
    if (b"e-" in out or b"0.0000" in out) and _FLOATS_JSON_WRITES_OTHERWISE.search(out):
        return json.dumps(obj, separators=(",", ":")).encode()
    return out


_FLOATS_JSON_WRITES_OTHERWISE = re.compile(rb"\de-\d|[:,\[]-?0\.0000")
_JSON_ESCAPE = "etl-json-ascii"


def _json_escape(err: UnicodeError) -> tuple[str, int]:
    """json's ensure_ascii escapes: \\uXXXX in lower case, surrogate pairs beyond the BMP."""
    assert isinstance(err, UnicodeEncodeError)
    out = []
    for ch in err.object[err.start : err.end]:
        o = ord(ch)
        if o > 0xFFFF:
            o -= 0x10000
            out.append(f"\\u{0xD800 | (o >> 10):04x}\\u{0xDC00 | (o & 0x3FF):04x}")
        else:
            out.append(f"\\u{o:04x}")
    return "".join(out), err.end


codecs.register_error(_JSON_ESCAPE, _json_escape)


def _changed_cols(rows: Sequence[Mapping[str, Any]], key: Iterable[str]) -> list[str]:
    keys = set(key) | {"updated_at"}
    return [c for c in rows[0] if c not in keys]


# Upsert statements built once per (backend, table, columns, variant) and executed with
# executemany: compiling a fresh multi-row VALUES statement per page costs more than the
# database's work, and the pipeline must never be the bottleneck.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _many(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    variant: str,
    build: Callable[[Any, list[str]], Any],
) -> None:
    if not rows:
        return
    for group in _uniform(rows):
        cols = list(group[0])
        key = (conn.dialect.name, table.name, tuple(cols), variant)
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            stmt = build(_insert_for(conn, table), cols)
            if conn.dialect.name == "sqlite":
                stmt = _Rendered.of(stmt, conn, cols) or stmt
            _STATEMENTS[key] = stmt
        if isinstance(stmt, _Rendered):
            stmt.run(conn, group)
        else:
            conn.execute(stmt, group)


@dataclass(frozen=True)
class _Rendered:
    """A statement compiled once to the driver's SQL, run with plain tuples (executemany).

    SQLAlchemy's per-execution work (parameter dicts, bind processing through its layers)
    cost as much as SQLite's own; here each value goes through its type's processor
    (e.g. datetimes to SQLite's text format) and nothing else.
    """

    sql: str
    getters: tuple[tuple[str | None, Any, Callable[[Any], Any] | None], ...]

    @classmethod
    def of(cls, stmt: Any, conn: Connection, cols: list[str]) -> _Rendered | None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=cols)
        names = compiled.positiontup
        if names is None:  # a named paramstyle: leave it to SQLAlchemy
            return None
        getters = []
        for name in names:
            if name not in cols and name in stmt.table.c:
                return None  # a column default SQLAlchemy would compute: its own path
            bind = compiled.binds[name]
            proc = _fast_datetime(bind.type, conn) or bind.type._cached_bind_processor(conn.dialect)
            if name in cols:
                getters.append((name, None, proc))
            else:  # a literal of the statement itself
                value = bind.effective_value
                getters.append((None, proc(value) if proc else value, None))
        return cls(compiled.string, tuple(getters))

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        # Column by column, then transposed: a comprehension per column and `map` for the
        # processors cost a third of building each row's tuple value by value.
        cols: list[Iterable[Any]] = []
        for c, v, p in self.getters:
            if c is None:
                cols.append(repeat(v, len(rows)))
                continue
            col = [r[c] for r in rows]
            cols.append(col if p is None else list(map(p, col)))
        conn.exec_driver_sql(self.sql, list(zip(*cols, strict=True)))  # type: ignore[arg-type]


_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def _fast_datetime(type_: Any, conn: Connection) -> Callable[[Any], Any] | None:
    """SQLite's datetime text, as SQLAlchemy writes it, by `isoformat` (the same text for
    naive datetimes, a third of the cost); anything else goes to SQLAlchemy's processor."""
    impl = type_.dialect_impl(conn.dialect)
    if getattr(impl, "_storage_format", None) != _SQLITE_DATETIME:
        return None
    slow = impl.bind_processor(conn.dialect)
    exact = datetime

    def process(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is exact and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return slow(value)

    return process


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert or update by primary key; unchanged rows are left alone (keep updated_at)."""
    pk = [c.name for c in table.primary_key.columns]

    def build(ins: Any, cols: list[str]) -> Any:
        changed = [c for c in cols if c not in pk and c != "updated_at"]
        return ins.on_conflict_do_update(
            index_elements=pk,
            set_={c: ins.excluded[c] for c in cols if c not in pk},
            where=or_(*[table.c[c].is_distinct_from(ins.excluded[c]) for c in changed]),
        )

    _many(conn, table, rows, "upsert", build)


def _uniform(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows into groups with the same keys (one INSERT needs one column list)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r), []).append(r)
    return list(groups.values())


# ---------------------------------------------------------------- raw layer


def raw_rows(
    objects: Sequence[tuple[Mapping[str, Any], bool]],
    *,
    run_id: int | None,
    source: str,
    api_version: str | None,
) -> list[dict[str, Any]]:
    """raw_objects rows for (object, malformed) pairs: pure, so fetch threads can build them."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for obj, malformed in objects:
        data = content_bytes(obj)
        digest = hashlib.sha256(data).hexdigest()
        text = data.decode("ascii")
        otype = str(obj.get("object") or "unknown")
        sid = str(obj.get("id") or "")
        created = obj.get("created", obj.get("date"))
        rows[(otype, sid, digest)] = {
            "object_type": otype,
            "stripe_id": sid,
            "api_version": api_version,
            "created": n.ts(created) if isinstance(created, int) else None,
            "fetched_at": None,
            "sync_run_id": run_id,
            "source": source,
            "deleted": bool(obj.get("deleted")),
            "malformed": malformed,
            "is_current": True,
            "content_hash": digest,
            "data": text,
        }
    return list(rows.values())


def save_raw(
    conn: Connection,
    objects: Sequence[tuple[Mapping[str, Any], bool]],
    *,
    now: datetime,
    run_id: int | None,
    source: str,
    api_version: str | None,
) -> None:
    """Store each (object, malformed) once per distinct content; flag the current version."""
    save_raw_rows(
        conn, raw_rows(objects, run_id=run_id, source=source, api_version=api_version), now
    )


def save_raw_rows(conn: Connection, values: list[dict[str, Any]], now: datetime) -> None:
    if not values:
        return
    for r in values:
        r["fetched_at"] = now

    def build(ins: Any, cols: list[str]) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["object_type", "stripe_id", "content_hash"],
            set_={
                c: ins.excluded[c]
                for c in ("fetched_at", "sync_run_id", "is_current", "malformed", "source")
            },
        )

    _many(conn, T_RAW, values, "raw", build)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in values:
        by_type[r["object_type"]].append(r)
    for otype, group in by_type.items():
        conn.execute(
            update(T_RAW)
            .where(
                T_RAW.c.object_type == otype,
                T_RAW.c.stripe_id.in_({r["stripe_id"] for r in group}),
                T_RAW.c.is_current.is_(True),
                T_RAW.c.content_hash.not_in([r["content_hash"] for r in group]),
            )
            .values(is_current=False)
        )


# ---------------------------------------------------------------- customers


_CUSTOMER_FIELDS = ("extra_id", "email", "name", "currency", "metadata_json", "created")


def ensure_customers(
    conn: Connection, stripe_ids: Iterable[str | None], now: datetime
) -> dict[str, int]:
    """customers.id for each Stripe customer id, creating stub rows for unknown ones.

    A stub (only its Stripe id) is filled in when the customer itself arrives.
    """
    ids = {s for s in stripe_ids if s}
    if not ids:
        return {}
    c = tables.customers.c
    found = dict(conn.execute(select(c.stripe_id, c.id).where(c.stripe_id.in_(ids))).all())
    missing = ids - found.keys()
    if missing:
        ins = _insert_for(conn, tables.customers).values(
            [
                {"stripe_id": s, "source": "stripe", "deleted": False, "updated_at": now}
                for s in sorted(missing)
            ]
        )
        conn.execute(ins.on_conflict_do_nothing(index_elements=["stripe_id"]))
        found.update(conn.execute(select(c.stripe_id, c.id).where(c.stripe_id.in_(missing))).all())
    return found


def upsert_customers(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Stripe wins where Stripe has a value; API-created customers (no Stripe id) are untouched."""
    live = [r for r in rows if not r.get("deleted")]
    gone = [r["stripe_id"] for r in rows if r.get("deleted")]
    if live:
        values = [{**r, "source": "stripe", "updated_at": now} for r in live]
        _many(conn, tables.customers, values, "customers", _customer_upsert)
        assign_email_keys(conn, live)
    if gone:
        ensure_customers(conn, gone, now)
        conn.execute(
            update(tables.customers)
            .where(tables.customers.c.stripe_id.in_(gone), tables.customers.c.deleted.is_(False))
            .values(deleted=True, updated_at=now)
        )


def _customer_upsert(ins: Any, cols: list[str]) -> Any:
    ex = ins.excluded
    t = tables.customers.c
    fields = [c for c in _CUSTOMER_FIELDS if c in cols]
    set_: dict[str, Any] = {col: func.coalesce(ex[col], t[col]) for col in fields}
    # The state belongs to the country: a new country from Stripe brings its state (or none).
    set_["country"] = func.coalesce(ex.country, t.country)
    set_["state"] = case(
        (ex.country.is_not(None), ex.state), else_=func.coalesce(ex.state, t.state)
    )
    set_["deleted"] = ex.deleted
    set_["source"] = ex.source
    set_["updated_at"] = ex.updated_at
    where = or_(
        *[and_(ex[col].is_not(None), t[col].is_distinct_from(ex[col])) for col in fields],
        and_(ex.country.is_not(None), t.country.is_distinct_from(ex.country)),
        and_(ex.country.is_not(None), t.state.is_distinct_from(ex.state)),
        t.deleted.is_distinct_from(ex.deleted),
    )
    return ins.on_conflict_do_update(index_elements=["stripe_id"], set_=set_, where=where)


def _order(created: datetime | None, stripe_id: str | None) -> tuple[datetime, str]:
    return (created or datetime.max, stripe_id or "")


def assign_email_keys(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Keep `email_key` unique: of the Stripe customers sharing an email, the earliest
    created (then lowest Stripe id) holds it; a customer created through the API keeps
    its own. The rule does not depend on the order pages arrive in."""
    c = tables.customers.c
    sids = [r["stripe_id"] for r in rows]
    wanted = {r["stripe_id"]: r["email"].strip().lower() for r in rows if r.get("email")}
    keys = set(wanted.values())
    cond: Any = c.stripe_id.in_(sids)
    if keys:
        cond = or_(cond, c.email_key.in_(keys))
    current = conn.execute(
        select(c.id, c.stripe_id, c.created, c.email, c.email_key).where(cond)
    ).all()
    holders = {r.email_key: r for r in current if r.email_key}
    page = {r.stripe_id: r for r in current if r.stripe_id in set(sids)}
    changes: dict[int, str | None] = {}
    for sid, r in page.items():
        if r.email_key and r.email_key != wanted.get(sid):
            changes[r.id] = None
            holders.pop(r.email_key, None)
    claimants: dict[str, list[Any]] = defaultdict(list)
    for sid, key in wanted.items():
        if sid in page:
            claimants[key].append(page[sid])
    for key, group in claimants.items():
        holder = holders.get(key)
        if holder is not None and holder.stripe_id is None:
            continue
        pool = group + ([holder] if holder is not None else [])
        best = min(pool, key=lambda r: _order(r.created, r.stripe_id))
        if holder is None or best.id != holder.id:
            if holder is not None:
                changes[holder.id] = None
            changes[best.id] = key
    cleared = [i for i, k in changes.items() if k is None]
    if cleared:
        conn.execute(update(tables.customers).where(c.id.in_(cleared)).values(email_key=None))
    claimed = [{"cid": cid, "key": key} for cid, key in changes.items() if key is not None]
    if claimed:
        # One executemany: a statement per customer cost more than the rest of the page.
        conn.execute(
            update(tables.customers)
            .where(c.id == bindparam("cid"))
            .values(email_key=bindparam("key")),
            claimed,
        )


# ---------------------------------------------------------------- catalogue


def upsert_plans(conn: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Prices overwrite any row of their id; legacy plans never overwrite a price's row."""
    live = [{**r, "updated_at": now} for r in rows if not r.get("deleted")]
    for group in _uniform(live):
        legacy = group[0]["source"] == "stripe_plan"

        def build(ins: Any, cols: list[str], legacy: bool = legacy) -> Any:
            ex = ins.excluded
            changed = [c for c in cols if c not in ("id", "updated_at")]
            where = or_(*[tables.plans.c[col].is_distinct_from(ex[col]) for col in changed])
            if legacy:
                where = and_(tables.plans.c.source != "stripe_price", where)
            return ins.on_conflict_do_update(
                index_elements=["id"],
                set_={col: ex[col] for col in [*changed, "updated_at"]},
                where=where,
            )

        _many(conn, tables.plans, group, "plans_legacy" if legacy else "plans", build)
    gone = [r["id"] for r in rows if r.get("deleted")]
    if gone:
        conn.execute(
            update(tables.plans)
            .where(tables.plans.c.id.in_(gone), tables.plans.c.deleted.is_(False))
            .values(deleted=True, updated_at=now)
        )


def refresh_plan_names(conn: Connection) -> None:
    """name = nickname, else the product's name, else the id (set-based, only changed rows)."""
    p = tables.plans.c
    product_name = (
        select(tables.products.c.name).where(tables.products.c.id == p.product_id).scalar_subquery()
    )
    wanted = func.coalesce(p.nickname, product_name, p.id)
    conn.execute(
        update(tables.plans)
        .where(p.source.in_(["stripe_price", "stripe_plan"]), p.name.is_distinct_from(wanted))
        .values(name=wanted)
    )


def _mark_deleted(conn: Connection, table: Table, ids: list[str], now: datetime) -> None:
    if ids:
        conn.execute(
            update(table)
            .where(table.c.id.in_(ids), table.c.deleted.is_(False))
            .values(deleted=True, updated_at=now)
        )


# ---------------------------------------------------------------- the page writer


@dataclass
class _Batch:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    deleted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    deleted_invoices: list[str] = field(default_factory=list)
    complete_invoices: list[str] = field(default_factory=list)
    sub_ids: list[str] = field(default_factory=list)


def _normalize_into(
    batch: _Batch, obj: Mapping[str, Any], extra_id_key: str, res: PageResult
) -> None:
    otype = obj.get("object")
    if otype == "customer":
        batch.rows["customers"].append(n.normalize_customer(obj, extra_id_key))
    elif otype == "product":
        row = n.normalize_product(obj)
        if row.get("deleted") and len(row) == 2:
            batch.deleted["products"].append(row["id"])
        else:
            batch.rows["products"].append(row)
    elif otype in ("price", "plan"):
        batch.rows["plans"].append(n.normalize_price(obj))
    elif otype == "coupon":
        row = n.normalize_coupon(obj)
        if row.get("deleted") and len(row) == 2:
            batch.deleted["coupons"].append(row["id"])
        else:
            batch.rows["coupons"].append(row)
    elif otype == "subscription":
        norm = n.normalize_subscription(obj)
        for table, rows in norm.rows.items():
            batch.rows[table].extend(rows)
        batch.sub_ids.append(obj["id"])
        if norm.unexpanded_discounts:
            res.unexpanded_discounts[obj["id"]] = norm.unexpanded_discounts
    elif otype == "invoice":
        if obj.get("deleted"):
            batch.deleted_invoices.append(obj["id"])
            return
        norm = n.normalize_invoice(obj)
        for table, rows in norm.rows.items():
            batch.rows[table].extend(rows)
        inv = norm.rows["invoices"][0]
        if inv["lines_complete"]:
            batch.complete_invoices.append(inv["id"])
        if norm.unexpanded_discounts:
            res.unexpanded_discounts[obj["id"]] = norm.unexpanded_discounts
    elif otype == "invoiceitem":
        row = n.normalize_invoice_item(obj)
        if row.get("deleted") and len(row) == 2:
            batch.deleted["invoice_items"].append(row["id"])
        else:
            batch.rows["invoice_items"].append(row)
    elif otype == "credit_note":
        batch.rows["credit_notes"].append(n.normalize_credit_note(obj))
    elif otype == "refund":
        batch.rows["refunds"].append(n.normalize_refund(obj))
    else:
        raise n.Malformed(f"unknown object type {otype!r}")


def _map_customers(
    rows: list[dict[str, Any]], mapping: Mapping[str, int], *, keep_stripe_id: bool
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r = dict(r)
        sid = r["stripe_customer_id"] if keep_stripe_id else r.pop("stripe_customer_id")
        r["customer_id"] = mapping.get(sid) if sid else None
        out.append(r)
    return out


@dataclass
class PreparedPage:
    """A page normalized and serialized, ready to be written (built off the writer thread)."""

    batch: _Batch
    raw: list[dict[str, Any]]
    result: PageResult


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
    batch = _Batch()
    raw: list[tuple[Mapping[str, Any], bool]] = []
    for obj in objects:
        try:
            if not isinstance(obj, Mapping) or not obj.get("id"):
                raise n.Malformed("object without an id")
            _normalize_into(batch, obj, extra_id_key, res)
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


def _write_batch(conn: Connection, b: _Batch, now: datetime, res: PageResult) -> None:
    rows = b.rows
    if rows.get("customers"):
        upsert_customers(conn, rows["customers"], now)
    if rows.get("products"):
        _upsert(conn, tables.products, [{**r, "updated_at": now} for r in rows["products"]])
    _mark_deleted(conn, tables.products, b.deleted.get("products", []), now)
    if rows.get("plans"):
        upsert_plans(conn, rows["plans"], now)
    if rows.get("coupons"):
        _upsert(conn, tables.coupons, [{**r, "updated_at": now} for r in rows["coupons"]])
    _mark_deleted(conn, tables.coupons, b.deleted.get("coupons", []), now)

    refs: set[str | None] = set()
    for table in (
        "subscriptions",
        "invoices",
        "discounts",
        "invoice_items",
        "credit_notes",
        "refunds",
    ):
        refs.update(r.get("stripe_customer_id") for r in rows.get(table, []))
    mapping = ensure_customers(conn, refs, now)

    if rows.get("subscriptions"):
        subs = _map_customers(rows["subscriptions"], mapping, keep_stripe_id=True)
        _fill_coupons_from_known_discounts(conn, subs, res.unexpanded_discounts)
        _upsert(conn, tables.subscriptions, [{**r, "updated_at": now} for r in subs])
        items = [{**r, "updated_at": now} for r in rows.get("subscription_items", [])]
        keep = [r["id"] for r in items]
        conn.execute(
            delete(tables.subscription_items).where(
                tables.subscription_items.c.subscription_id.in_(b.sub_ids),
                tables.subscription_items.c.id.not_in(keep),
            )
        )
        _upsert(conn, tables.subscription_items, items)
    if b.deleted_invoices:
        conn.execute(
            delete(tables.invoice_lines).where(
                tables.invoice_lines.c.invoice_id.in_(b.deleted_invoices)
            )
        )
        conn.execute(
            delete(tables.discounts).where(tables.discounts.c.invoice_id.in_(b.deleted_invoices))
        )
        conn.execute(
            delete(tables.invoices).where(
                tables.invoices.c.id.in_(b.deleted_invoices), tables.invoices.c.source == "stripe"
            )
        )
        res.deleted_invoice_ids.extend(b.deleted_invoices)
    if rows.get("invoices"):
        invs = _map_customers(rows["invoices"], mapping, keep_stripe_id=True)
        _upsert(conn, tables.invoices, [{**r, "updated_at": now} for r in invs])
        by_invoice = {r["id"]: r["customer_id"] for r in invs}
        lines = [
            {**r, "customer_id": by_invoice.get(r["invoice_id"]), "updated_at": now}
            for r in rows.get("invoice_lines", [])
        ]
        if b.complete_invoices:
            keep = [r["id"] for r in lines]
            conn.execute(
                delete(tables.invoice_lines).where(
                    tables.invoice_lines.c.invoice_id.in_(b.complete_invoices),
                    tables.invoice_lines.c.id.not_in(keep),
                )
            )
        _upsert(conn, tables.invoice_lines, lines)
        res.invoice_ids.extend(by_invoice)
        _attach_invoice_items(conn, lines)
    if rows.get("discounts"):
        disc = _map_customers(rows["discounts"], mapping, keep_stripe_id=False)
        merged = {r["id"]: {**r, "updated_at": now} for r in disc}
        _upsert_discounts(conn, list(merged.values()))
    if rows.get("invoice_items"):
        ii = _map_customers(rows["invoice_items"], mapping, keep_stripe_id=False)
        _upsert(conn, tables.invoice_items, [{**r, "updated_at": now} for r in ii])
    _mark_deleted(conn, tables.invoice_items, b.deleted.get("invoice_items", []), now)
    if rows.get("credit_notes"):
        cn = _map_customers(rows["credit_notes"], mapping, keep_stripe_id=False)
        _upsert(conn, tables.credit_notes, [{**r, "updated_at": now} for r in cn])
    if rows.get("refunds"):
        rf = _map_customers(rows["refunds"], mapping, keep_stripe_id=False)
        _upsert(conn, tables.refunds, [{**r, "updated_at": now} for r in rf])


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


def _upsert_discounts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """A discount row is a function of the discount object alone, whoever carried it."""
    _upsert(conn, tables.discounts, rows)


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


def known_discounts(conn: Connection, ids: Iterable[str]) -> set[str]:
    ids = set(ids)
    if not ids:
        return set()
    return set(conn.scalars(select(tables.discounts.c.id).where(tables.discounts.c.id.in_(ids))))


def unfilled_customer_stubs(conn: Connection) -> list[str]:
    """Stripe customers referenced by other objects but never received themselves."""
    c = tables.customers.c
    return list(
        conn.scalars(
            select(c.stripe_id).where(
                c.source == "stripe",
                c.created.is_(None),
                c.deleted.is_(False),
                c.stripe_id.is_not(None),
            )
        )
    )


def unfinished_invoices(conn: Connection) -> list[str]:
    """Stripe invoices that may still change: drafts and open ones."""
    i = tables.invoices.c
    return list(
        conn.scalars(select(i.id).where(i.source == "stripe", i.status.in_(["draft", "open"])))
    )


__all__ = [
    "KNOWN_TYPES",
    "TYPE_ORDER",
    "PageResult",
    "ensure_customers",
    "known_discounts",
    "refresh_plan_names",
    "save_objects",
    "save_raw",
    "unfilled_customer_stubs",
    "unfinished_invoices",
    "upsert_customers",
]
