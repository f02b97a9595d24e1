"""Calendar arithmetic of the metric rules: months in the reporting time zone, plan intervals.

Instants are integer epoch seconds (UTC) inside the engine: comparing ints is what a
million lines need, and Stripe's timestamps are whole seconds anyway. A month is an
integer index `year * 12 + month - 1`, so "the previous month" is `m - 1`.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1)

# months(interval) = interval_count × factor, kept as an exact ratio (numerator, denominator).
_MONTHS_PER_INTERVAL: dict[str, tuple[int, int]] = {
    "day": (12, 365),
    "week": (12, 52),
    "month": (1, 1),
    "year": (12, 1),
}
INTERVALS = tuple(_MONTHS_PER_INTERVAL)


def months_of(interval: str, interval_count: int) -> Fraction:
    """`months(interval)` of the spec: how many months one billing period is worth."""
    num, den = _MONTHS_PER_INTERVAL[interval]
    return Fraction(num * interval_count, den)


def months_ratio(interval: str, interval_count: int) -> tuple[int, int]:
    """months(interval) as (numerator, denominator) for integer-only hot loops."""
    num, den = _MONTHS_PER_INTERVAL[interval]
    return num * interval_count, den


def to_epoch(ts: datetime) -> int:
    """Naive UTC (or aware) datetime -> epoch seconds."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return int((ts - EPOCH).total_seconds())


def from_epoch(sec: int) -> datetime:
    return EPOCH + timedelta(seconds=sec)


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_date(m: int) -> date:
    return date(m // 12, m % 12 + 1, 1)


def add_months(ts: datetime, n: int) -> datetime:
    """Calendar month arithmetic; the day is clamped to the month's length (Jan 31 + 1 = Feb 28)."""
    y, mo = divmod(ts.year * 12 + ts.month - 1 + n, 12)
    day = min(ts.day, calendar.monthrange(y, mo + 1)[1])
    return ts.replace(year=y, month=mo + 1, day=day)


def add_interval(ts: datetime, interval: str, count: int) -> datetime:
    if interval == "month":
        return add_months(ts, count)
    if interval == "year":
        return add_months(ts, 12 * count)
    if interval == "week":
        return ts + timedelta(weeks=count)
    if interval == "day":
        return ts + timedelta(days=count)
    raise ValueError(f"unknown interval {interval!r}")


def full_period_seconds(end_epoch: int, interval: str, count: int) -> int:
    """Length of the billing period that ends at `end_epoch` (calendar, in UTC), in seconds."""
    end = from_epoch(end_epoch)
    start = add_interval(end, interval, -count)
    return end_epoch - to_epoch(start)


class MonthGrid:
    """First instants of months in one time zone, as epoch seconds, for bisecting."""

    def __init__(self, timezone: str, first_year: int = 1990, last_year: int = 2100) -> None:
        tz = ZoneInfo(timezone)
        self.timezone = timezone
        self.base = first_year * 12
        self.starts: list[int] = []
        # dates[j] = first day of the month that ends at starts[j]
        self.dates: list[date] = [date(1, 1, 1)]
        for m in range(first_year * 12, (last_year + 1) * 12 + 1):
            local = datetime(m // 12, m % 12 + 1, 1, tzinfo=tz)
            self.starts.append(int(local.astimezone(UTC).timestamp()))
            self.dates.append(month_date(m))
        self.dates.pop()

    def month_of(self, sec: int) -> int:
        """Month index of the month containing the instant (start ≤ sec < next start)."""
        i = bisect_right(self.starts, sec) - 1
        if i < 0 or i >= len(self.starts) - 1:
            raise ValueError(
                f"instant {from_epoch(sec).isoformat()} is outside the supported years"
            )
        return self.base + i


@lru_cache(maxsize=8)
def month_grid(timezone: str) -> MonthGrid:
    return MonthGrid(timezone)


def round_half_up(x: Fraction | int) -> int:
    if isinstance(x, int):
        return x
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)
