"""Small helpers of the sandbox simulation: Stripe-like ids, calendar arithmetic, rounding,
weighted draws."""

from __future__ import annotations

import calendar
import random
from bisect import bisect_right
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

DAY = 86_400
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MASK = (1 << 64) - 1
_MUL = 0x9E3779B97F4A7C15  # odd, so n -> n * _MUL mod 2**64 is a bijection (ids never collide)


_HEX_TO_MIXED = str.maketrans("0123456789abcdef", "aB3dE5gH7jK9mN1p")
_B62_2 = [a + b for a in _B62 for b in _B62]


def b62(n: int, width: int) -> str:
    """`n` in base 62, `width` digits (most significant first; n must fit)."""
    out = []
    for _ in range(width // 2):
        n, r = divmod(n, 3844)
        out.append(_B62_2[r])
    if width % 2:
        out.append(_B62[n % 62])
    return "".join(reversed(out))


def mix64(x: int) -> int:
    """splitmix64 finaliser: spreads a seed over 64 bits."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class Ids:
    """Deterministic, unique, Stripe-looking ids: one counter per prefix, scrambled."""

    SHORT = frozenset({"cus", "prod", "plan", "txr", "mtr"})

    def __init__(self, seed: int) -> None:
        self._salt = mix64(seed)
        self._tag = "1" + b62(mix64(seed ^ 0x5EED), 10)
        self._counters: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        x = (n * _MUL + self._salt) & _MASK
        if prefix in self.SHORT:
            return f"{prefix}_{b62(x, 14)}"
        # 16 digits in a 16-letter mixed-case alphabet: a bijection, and fast.
        return f"{prefix}_{self._tag}{format(x, '016x').translate(_HEX_TO_MIXED)}"

    def state(self) -> dict[str, int]:
        return dict(self._counters)


def ts(dt: datetime) -> int:
    return int(dt.timestamp())


# First instants (UTC) of every month from 1970 to 2200: month arithmetic by lookup.
_MONTH_STARTS = [
    int(datetime(1970 + i // 12, i % 12 + 1, 1, tzinfo=UTC).timestamp()) for i in range(231 * 12)
]


def add_months(t: int, n: int) -> int:
    """`t` plus n calendar months (UTC), the day clamped to the month's length like Stripe."""
    i = bisect_right(_MONTH_STARTS, t) - 1
    off = t - _MONTH_STARTS[i]
    if 0 <= i + n < len(_MONTH_STARTS) and off < 28 * DAY:
        return _MONTH_STARTS[i + n] + off
    d = datetime.fromtimestamp(t, UTC)
    m = d.month - 1 + n
    y = d.year + m // 12
    m = m % 12 + 1
    day = min(d.day, calendar.monthrange(y, m)[1])
    return int(d.replace(year=y, month=m, day=day).timestamp())


def add_interval(t: int, interval: str, count: int) -> int:
    if interval == "month":
        return add_months(t, count)
    if interval == "year":
        return add_months(t, 12 * count)
    if interval == "week":
        return t + 7 * DAY * count
    return t + DAY * count


def months_of(interval: str, count: int) -> Fraction:
    """The metric spec's months(interval)."""
    per = {
        "day": Fraction(12, 365),
        "week": Fraction(12, 52),
        "month": Fraction(1),
        "year": Fraction(12),
    }[interval]
    return per * count


def round_half_up(x: Fraction) -> int:
    """Nearest integer, halves away from zero (Stripe's and the spec's rounding)."""
    if x >= 0:
        return int((x + Fraction(1, 2)) // 1)
    return -int((-x + Fraction(1, 2)) // 1)


def prorate(amount: int, remaining: int, period: int) -> int:
    """Stripe's proration of `amount` for `remaining` seconds of a `period`-second period."""
    n = amount * remaining
    q, r = divmod(n, period)
    return q + 1 if 2 * r >= period else q


def weighted(r: random.Random, choices: tuple[tuple[Any, int], ...]) -> Any:
    """One of the values of (value, weight) pairs, drawn with one `r.random()`."""
    total = sum(w for _, w in choices)
    x = r.random() * total
    for v, w in choices:
        x -= w
        if x < 0:
            return v
    return choices[-1][0]
