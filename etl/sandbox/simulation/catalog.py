"""The sandbox's product catalog: products, prices, legacy plans, coupons and tax rates.

Prices exist in usd, eur and gbp. Kinds: `flat` tiers (monthly, quarterly, yearly),
`seat` (per-seat, monthly and yearly), `weekly`, `free`, `addon` (a second licensed
item), `metered` (usage billed in arrears), `one_time` (setup fees, consulting hours)
and `legacy` plans created through the old Plans API (ids `plan_…`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from etl.sandbox.simulation.util import DAY, Ids

Obj = dict[str, Any]

CURRENCIES = ("usd", "eur", "gbp")
# Monthly list prices per tier, in cents, per currency.
_TIERS = {
    "Starter": {"usd": 2900, "eur": 2700, "gbp": 2400},
    "Growth": {"usd": 9900, "eur": 8900, "gbp": 7900},
    "Scale": {"usd": 29900, "eur": 27900, "gbp": 24900},
}
TIER_ORDER = ("Starter", "Growth", "Scale")


@dataclass(slots=True, eq=False)
class Price:
    id: str
    product: str
    product_name: str
    currency: str
    unit_amount: int
    interval: str | None
    interval_count: int
    usage_type: str
    kind: str
    tier: int
    nickname: str | None
    obj: Obj = field(default_factory=dict)
    plan_obj: Obj = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Coupon:
    id: str
    percent_off: int | None
    amount_off: int | None
    currency: str | None
    duration: str
    duration_in_months: int | None
    obj: Obj = field(default_factory=dict)


@dataclass(slots=True)
class TaxRate:
    id: str
    country: str
    percentage: int
    display_name: str


def product_obj(
    pid: str, name: str, created: int, description: str | None, unit_label: str | None
) -> Obj:
    return {
        "id": pid,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": unit_label,
        "updated": created,
        "url": None,
    }


def price_obj(p: Price, created: int) -> Obj:
    recurring = None
    if p.interval is not None:
        recurring = {
            "interval": p.interval,
            "interval_count": p.interval_count,
            "meter": "mtr_" + p.id[-14:] if p.usage_type == "metered" else None,
            "usage_type": p.usage_type,
            "trial_period_days": None,
        }
    return {
        "id": p.id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": p.currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": p.nickname,
        "product": p.product,
        "recurring": recurring,
        "tax_behavior": "exclusive",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": p.unit_amount,
        "unit_amount_decimal": str(p.unit_amount),
    }


def plan_obj(p: Price, created: int) -> Obj:
    return {
        "id": p.id,
        "object": "plan",
        "active": True,
        "amount": p.unit_amount,
        "amount_decimal": str(p.unit_amount),
        "billing_scheme": "per_unit",
        "created": created,
        "currency": p.currency,
        "interval": p.interval,
        "interval_count": p.interval_count,
        "livemode": False,
        "metadata": {},
        "meter": "mtr_" + p.id[-14:] if p.usage_type == "metered" else None,
        "nickname": p.nickname,
        "product": p.product,
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": p.usage_type,
    }


def coupon_obj(c: Coupon, created: int, name: str) -> Obj:
    return {
        "id": c.id,
        "object": "coupon",
        "amount_off": c.amount_off,
        "created": created,
        "currency": c.currency,
        "duration": c.duration,
        "duration_in_months": c.duration_in_months,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": name,
        "percent_off": c.percent_off,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
    }


@dataclass
class Catalog:
    products: dict[str, Obj] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    coupons: dict[str, Coupon] = field(default_factory=dict)
    tax_rates: dict[str, TaxRate] = field(default_factory=dict)
    # (kind, tier name or "", interval, interval_count, currency) -> price
    index: dict[tuple[str, str, str | None, int, str], Price] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)  # object id -> created

    def price(self, kind: str, name: str, interval: str | None, count: int, cur: str) -> Price:
        return self.index[(kind, name, interval, count, cur)]


_NICKNAME_LABELS = {
    ("month", 1): "Monthly",
    ("month", 3): "Quarterly",
    ("year", 1): "Yearly",
    ("week", 1): "Weekly",
}


def build_catalog(ids: Ids, start: int) -> Catalog:
    """The catalog, created before the first customer (legacy plans a year earlier).

    Ids are drawn in a fixed order (legacy plans, current prices, tax rates): the
    order is part of what makes the account a function of its seed."""
    builder = _Builder(ids)
    _add_legacy_plans(builder, start - 400 * DAY)
    _add_current_prices(builder, start - 45 * DAY)
    _add_coupons(builder.cat, start - 40 * DAY)
    _add_tax_rates(builder.cat, ids)
    return builder.cat


class _Builder:
    """Adds products and prices to a catalog, with ids from `ids`."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids
        self.cat = Catalog()

    def product(
        self, name: str, created: int, desc: str | None = None, unit: str | None = None
    ) -> str:
        pid = self.ids.new("prod")
        self.cat.products[pid] = product_obj(pid, name, created, desc, unit)
        self.cat.created[pid] = created
        return pid

    def add(
        self,
        kind: str,
        key: str,
        pid: str,
        pname: str,
        cur: str,
        amount: int,
        interval: str | None,
        count: int,
        created: int,
        tier: int = 0,
        usage: str = "licensed",
        legacy_name: str | None = None,
    ) -> Price:
        pr_id = legacy_name or self.ids.new("price")
        nick = None
        if interval:
            nick = f"{pname} {_NICKNAME_LABELS[(interval, count)]} {cur.upper()}"
        p = Price(pr_id, pid, pname, cur, amount, interval, count, usage, kind, tier, nick)
        p.obj = price_obj(p, created)
        p.plan_obj = plan_obj(p, created)
        self.cat.prices[pr_id] = p
        self.cat.index[(kind, key, interval, count, cur)] = p
        self.cat.created[pr_id] = created
        return p


def _add_legacy_plans(b: _Builder, legacy_t: int) -> None:
    """Created through the Plans API long ago: their ids are plan_…."""
    lp = b.product("Legacy", legacy_t, "Plans from the first version of the product")
    for name, amt, interval in (
        ("Basic", 1900, "month"),
        ("Pro", 4900, "month"),
        ("Pro", 49000, "year"),
    ):
        for cur in CURRENCIES:
            lid = b.ids.new("plan")
            b.add(
                "legacy",
                name,
                lp,
                f"Legacy {name}",
                cur,
                amt,
                interval,
                1,
                legacy_t,
                legacy_name=lid,
            )
        legacy_t += 60


def _add_current_prices(b: _Builder, t: int) -> None:
    """The tiers, seats, weekly, free, add-on, metered and one-time prices."""
    for tier_i, name in enumerate(TIER_ORDER):
        pid = b.product(name, t, f"The {name} plan")
        for cur in CURRENCIES:
            m = _TIERS[name][cur]
            b.add("flat", name, pid, name, cur, m, "month", 1, t, tier_i)
            b.add("flat", name, pid, name, cur, (m * 3 * 95) // 100, "month", 3, t, tier_i)
            b.add("flat", name, pid, name, cur, m * 10, "year", 1, t, tier_i)
        b.cat.products[pid]["default_price"] = b.cat.price("flat", name, "month", 1, "usd").id
        t += 30
    pid = b.product("Team seats", t, "Per-seat pricing for teams", "seat")
    for cur in CURRENCIES:
        b.add("seat", "Seat", pid, "Team seats", cur, 1200, "month", 1, t)
        b.add("seat", "Seat", pid, "Team seats", cur, 12000, "year", 1, t)
    t += 30
    pid = b.product("Weekly digest", t, "A weekly report")
    for cur in CURRENCIES:
        b.add("weekly", "Weekly", pid, "Weekly digest", cur, 900, "week", 1, t)
    t += 30
    pid = b.product("Community", t, "Free forever")
    for cur in CURRENCIES:
        b.add("free", "Free", pid, "Community", cur, 0, "month", 1, t)
    t += 30
    pid = b.product("Priority support", t, "An add-on")
    for cur in CURRENCIES:
        b.add("addon", "Support", pid, "Priority support", cur, 4900, "month", 1, t)
    t += 30
    pid = b.product("API calls", t, "Usage billed in arrears", "call")
    for cur in CURRENCIES:
        b.add("metered", "API", pid, "API calls", cur, 2, "month", 1, t, usage="metered")
    t += 30
    pid = b.product("Onboarding", t, "One-time services")
    for cur in CURRENCIES:
        b.add("one_time", "Setup", pid, "Setup fee", cur, 25000, None, 1, t)
        b.add("one_time", "Consulting", pid, "Consulting hour", cur, 15000, None, 1, t)


def _add_coupons(cat: Catalog, created: int) -> None:
    # Each tuple holds, in order: id, percent_off, amount_off, currency, duration,
    # duration_in_months and name.
    coupon_specs: list[tuple[str, int | None, int | None, str | None, str, int | None, str]] = [
        ("WELCOME20", 20, None, None, "forever", None, "20% off forever"),
        ("QUARTER25", 25, None, None, "repeating", 3, "25% off for 3 months"),
        ("HALFOFF1", 50, None, None, "once", None, "50% off the first invoice"),
        ("FREE2M", 100, None, None, "repeating", 2, "Free for 2 months"),
        ("NONPROFIT", 30, None, None, "forever", None, "Non-profit 30%"),
    ]
    for cur, amt in (("usd", 500), ("eur", 500), ("gbp", 400)):
        up = cur.upper()
        coupon_specs.append(
            (f"FIVEOFF_{up}", None, amt, cur, "forever", None, f"{amt // 100} {up} off")
        )
        coupon_specs.append(
            (
                f"TENOFF3_{up}",
                None,
                amt * 2,
                cur,
                "repeating",
                3,
                f"{amt * 2 // 100} {up} off for 3 months",
            )
        )
    for cid, pct, amount_off, coupon_cur, dur, months, name in coupon_specs:
        c = Coupon(cid, pct, amount_off, coupon_cur, dur, months)
        c.obj = coupon_obj(c, created, name)
        cat.coupons[cid] = c
        cat.created[cid] = created


def _add_tax_rates(cat: Catalog, ids: Ids) -> None:
    for country, pct, disp in (
        ("DE", 19, "MwSt."),
        ("FR", 20, "TVA"),
        ("NL", 21, "BTW"),
        ("ES", 21, "IVA"),
        ("IT", 22, "IVA"),
        ("IE", 23, "VAT"),
        ("GB", 20, "VAT"),
        ("US", 8, "Sales tax"),
    ):
        tid = ids.new("txr")
        cat.tax_rates[country] = TaxRate(tid, country, pct, disp)
