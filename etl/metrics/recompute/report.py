"""What a recompute did: the counts it reports (job_runs, API, log line).

Its own module because the CLI, the jobs and the API all read it, apart from the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class RecomputeReport:
    full: bool
    reason: str
    as_of: datetime
    month: date
    customers: int = 0
    lines: int = 0
    customer_rows: int = 0
    plan_rows: int = 0
    snapshots: int = 0
    monthly_rows: int = 0
    by_plan_rows: int = 0
    unrated_lines: int = 0
    missing_rates: dict[str, list[str]] = field(default_factory=dict)
    duration_s: float = 0.0
    job_run_id: int | None = None

    def counts(self) -> dict[str, Any]:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["month"] = self.month.isoformat()
        return d

    def missing_rates_summary(self) -> dict[str, str] | None:
        """Per currency, how many months lack an exchange rate and the first and last of
        them, e.g. {"eur": "60 months, 2020-01..2024-12"} (for log lines; the full lists
        stay in `missing_rates`)."""
        if not self.missing_rates:
            return None
        out = {}
        for cur, months in sorted(self.missing_rates.items()):
            ms = sorted(months)
            if not ms:
                continue
            span = ms[0] if len(ms) == 1 else f"{ms[0]}..{ms[-1]}"
            out[cur] = f"{len(ms)} month{'s' if len(ms) != 1 else ''} ({span})"
        return out or None

    def summary(self) -> str:
        mode = "full" if self.full else "incremental"
        text_ = (
            f"recompute ({mode}, as of {self.as_of.isoformat()}): {self.customers} customers, "
            f"{self.lines} lines -> {self.customer_rows} customer-months, {self.plan_rows} "
            f"customer-plan-months, {self.monthly_rows} monthly rows, {self.by_plan_rows} "
            f"plan-month rows, {self.snapshots} snapshots in {self.duration_s:.2f}s"
        )
        if self.unrated_lines:
            text_ += f"; {self.unrated_lines} subscription lines without a plan interval or period (no MRR)"
        if self.missing_rates:
            parts = [
                f"{c} ({', '.join(ms[:3])}{'…' if len(ms) > 3 else ''})"
                for c, ms in sorted(self.missing_rates.items())
            ]
            text_ += "; no exchange rate for " + "; ".join(parts)
        return text_
