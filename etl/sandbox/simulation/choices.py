"""What a new subscription buys: the seeded draws of plan kind, tier, interval, add-ons
and coupon, apart from the lifecycle that carries the subscription out.

The weights are the business's mix (mostly flat tiers, some seats, a few free and weekly
plans, legacy plans only early in the history); a draw consumes the account's RNG in a
fixed order, so changing one here changes every later object of the account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.sandbox.simulation.catalog import Coupon, Price
from etl.sandbox.simulation.records import CustomerState
from etl.sandbox.simulation.util import weighted

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account


def choose_items(
    acct: Account, c: CustomerState, t: int, returning: bool, second: bool
) -> tuple[list[tuple[Price, int]], Price | None]:
    """The licensed items (price, quantity) and the metered price (or None) of a new
    subscription of `c` at `t`."""
    r = acct.rng
    cur = c.currency
    cat = acct.catalog
    if second:
        kind = weighted(r, (("weekly", 40), ("addon", 60)))
    else:
        early = t < acct.start + (acct.end - acct.start) * 0.4
        kind = weighted(
            r,
            (
                ("flat", 66),
                ("seat", 13),
                ("free", 6),
                ("weekly", 3),
                ("legacy", 12 if early and not returning else 0),
            ),
        )
    items = _main_item(acct, kind, cur)
    metered = None
    p0 = items[0][0]
    if p0.interval == "month" and p0.interval_count == 1 and kind in ("flat", "seat"):
        x = r.random()
        if x < 0.10:
            items.append((cat.price("addon", "Support", "month", 1, cur), 1))
        elif x < 0.18:
            metered = cat.price("metered", "API", "month", 1, cur)
    return items, metered


def _main_item(acct: Account, kind: str, cur: str) -> list[tuple[Price, int]]:
    r = acct.rng
    cat = acct.catalog
    if kind == "flat":
        tier = weighted(r, (("Starter", 50), ("Growth", 35), ("Scale", 15)))
        interval, count = weighted(r, ((("month", 1), 70), (("month", 3), 10), (("year", 1), 20)))
        return [(cat.price("flat", tier, interval, count, cur), 1)]
    if kind == "seat":
        interval = "month" if r.random() < 0.75 else "year"
        return [(cat.price("seat", "Seat", interval, 1, cur), r.randint(2, 25))]
    if kind == "free":
        return [(cat.price("free", "Free", "month", 1, cur), 1)]
    if kind == "weekly":
        return [(cat.price("weekly", "Weekly", "week", 1, cur), 1)]
    if kind == "addon":
        return [(cat.price("addon", "Support", "month", 1, cur), 1)]
    name, interval = weighted(
        r, ((("Basic", "month"), 45), (("Pro", "month"), 40), (("Pro", "year"), 15))
    )
    return [(cat.price("legacy", name, interval, 1, cur), 1)]


def choose_coupon(acct: Account, c: CustomerState, single_item: bool, trial: bool) -> Coupon | None:
    """A coupon for a paid subscription, or None (most get none).

    Amount-off coupons only go to single-item subscriptions, and a `once` coupon never
    comes with a trial (its one invoice would be the $0 trial invoice)."""
    r = acct.rng
    if r.random() >= 0.14:
        return None
    coupons = acct.catalog.coupons
    choices = [k for k, cp in coupons.items() if cp.currency in (None, c.currency)]
    cp = coupons[r.choice(sorted(choices))]
    if (cp.amount_off is None or single_item) and not (cp.duration == "once" and trial):
        return cp
    return None
