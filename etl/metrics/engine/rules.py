"""The metric rules of the spec that have a name: which lines count, a line's monthly rate,
the renewal's expected price, the plan-level name of a customer-level movement.

Kept apart from `customer.py` so that each rule reads on its own. The per-line loop there
calls them where a call is cheap enough (unpaid lines, prorations) and inlines the common
case where it is not (said so at the spot).
"""

from __future__ import annotations

from fractions import Fraction

from etl.metrics.engine.lines import ExpectedItem
from etl.periods import full_period_seconds, months_ratio, round_half_up


def is_counted(status: str, due: int | None, as_of: int, grace_seconds: int) -> bool:
    """Paid invoices count; an open one while it is less than the grace period past due."""
    if status == "paid":
        return True
    if status == "open" and grace_seconds > 0 and due is not None:
        return as_of < due + grace_seconds
    return False


def monthly_rate(
    kind: str, value: int, interval: str, count: int | None, start: int, end: int
) -> tuple[int, int]:
    """The spec's §2, as an exact ratio (numerator, denominator): a subscription line's net
    per month; a proration's net scaled to the full billing period it ends with."""
    num, den = months_ratio(interval, count or 1)
    if kind == "proration":
        full = full_period_seconds(end, interval, count or 1)
        return value * full * den, (end - start) * num
    return value * den, num


def expected_net(it: ExpectedItem) -> int:
    """The renewal's price of an item: price × quantity − the coupon still in force then."""
    gross = it.amount * it.quantity
    if it.coupon_duration is None or gross <= 0:
        return gross
    if it.coupon_duration == "once":
        return gross
    if it.coupon_duration == "repeating" and (
        it.discount_end is None or it.period_end is None or it.period_end >= it.discount_end
    ):
        return gross
    if it.percent_off is not None:
        return gross - round_half_up(Fraction(gross) * Fraction(it.percent_off) / 100)
    return gross - min(it.amount_off or 0, gross)


# A customer on a single plan: the plan-level movement of each customer-level one.
PLAN_MOVE = {
    None: None,
    "new": "new",
    "reactivation": "new",
    "expansion": "upgrade",
    "contraction": "downgrade",
    "churn": "lost",
}
