"""What the server does to requests besides answering them: rate limiting and faults.

A token bucket answers 429 beyond `rate_limit` requests per second; with `fault_rate`
a seeded draw per request injects a 500, a 503, a dropped connection or a slow reply,
so that a client's retries can be tested deterministically.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter


class RateLimiter:
    """A token bucket: `rate` requests per second, bursts of up to `rate`."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate limit must be positive")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


FAULT_KINDS = ("500", "503", "dropped", "slow")


class FaultInjector:
    """Seeded draws of injected faults: one per request, `rate` of them faults."""

    def __init__(self, rate: float, seed: int, slow_reply_seconds: tuple[float, float]) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        self.rate = rate
        self.slow_reply_seconds = slow_reply_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def draw(self) -> tuple[str, float] | None:
        """(fault kind, delay for a slow reply) or None for a normal answer."""
        if self.rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(FAULT_KINDS)
            delay = self._rng.uniform(*self.slow_reply_seconds)
            self._counts[kind] += 1
        return kind, delay

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {k: self._counts.get(k, 0) for k in FAULT_KINDS}
