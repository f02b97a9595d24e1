"""What a sync run is asked to do (`SyncOptions`) and what it reports (`SyncSummary`).

Both cross the sync's boundary: the command line and the jobs build the options, the
summary becomes the run's one log line and its `sync_runs` row.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any


def default_processes() -> int:
    """Two, or one on a single core: the writer is the bottleneck beyond two, and each
    worker holds ~90 MB (a 10,000-customer load peaks at ~425 MB with two)."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class SyncOptions:
    full: bool = False
    backfill: bool = False
    since: date | None = None
    until: date | None = None
    workers: int = 8
    # Requests per second; None: the setting, else Stripe's default for the key's mode.
    rate_limit: float | None = None
    unlimited: bool = False
    progress: bool | None = None
    lock_wait_s: float = 0.0
    # Worker processes that parse and normalize a full load's pages (0: the fetching
    # threads do it), started once a load has fetched `prepare_after_pages` pages.
    processes: int = field(default_factory=default_processes)
    prepare_after_pages: int = 40


@dataclass
class SyncSummary:
    run_id: int | None
    kind: str
    status: str = "running"
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    objects: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    malformed: int = 0
    malformed_ids: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    fell_back_to_full: bool = False
    skipped: list[str] = field(default_factory=list)
    metrics: str = "skipped"
    # Invoices whose rows this run wrote or deleted (not in the summary line).
    touched_invoices: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        rate = self.requests / self.duration_s if self.duration_s else 0.0
        return {
            "event": "sync_summary",
            "run_id": self.run_id,
            "kind": self.kind,
            "status": self.status,
            "counts": dict(sorted(self.counts.items())),
            "objects": self.objects,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "malformed": self.malformed,
            "malformed_ids": self.malformed_ids[:50],
            "skipped_resources": self.skipped,
            "fell_back_to_full": self.fell_back_to_full,
            "metrics": self.metrics,
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(rate, 2),
        }
