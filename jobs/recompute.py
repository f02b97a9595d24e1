"""Recompute the metrics: incremental (customers whose lines changed), "now" moved forward."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobs.runner import JobContext, counts_of

if TYPE_CHECKING:
    from etl.bootstrap import Container

# etl.metrics.recompute writes its own job_runs row (every caller's run is logged, the
# CLI's and the API's too); the runner must not add a second one. The state that decides
# whether the next run may be incremental is in recompute_state, not in job_runs.
RECORDS_ITSELF = True


def run(container: Container, ctx: JobContext) -> dict[str, Any]:
    from etl.metrics.recompute import recompute

    report = recompute(
        container.engine,
        container.settings,
        as_of=ctx.options.get("as_of"),
        full=bool(ctx.options.get("full_recompute", False)),
        trigger=ctx.trigger,
    )
    return counts_of(report)
