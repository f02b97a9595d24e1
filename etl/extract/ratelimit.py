"""A token bucket shared by every fetching thread, so a sync stays within Stripe's rate limit.

Stripe allows 25 read requests per second in test mode and 100 in live mode; the
setting ETL_STRIPE_RATE_LIMIT overrides both (e.g. for a slower shared account).
"""

from __future__ import annotations

import threading
import time

TEST_MODE_RATE = 25.0
LIVE_MODE_RATE = 100.0


def default_rate(*, live: bool, override: float | None = None) -> float:
    if override is not None:
        return float(override)
    return LIVE_MODE_RATE if live else TEST_MODE_RATE


class TokenBucket:
    """`acquire()` blocks until a request may go out. rate=None means unlimited.

    The bucket holds at most `burst` tokens (default: one second's worth is too bursty
    for Stripe's per-second window, so a quarter second's), refilled continuously.
    """

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else (rate or 1.0) / 4)
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate is None:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            time.sleep(wait)

    def slow_down(self, seconds: float) -> None:
        """After a 429: empty the bucket so every thread pauses, not only the one that hit it."""
        if self.rate is None:
            return
        with self._lock:
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate
