"""Jobs for the runner tests, registered under jobs.runner.JOB_MODULES by the tests.

`flaky` fails `ctx.options["failures"]` times (counted in `ctx.options["calls"]`), then
returns counts; `exc` chooses what it raises.
"""

from __future__ import annotations

from typing import Any

from jobs.runner import JobContext


def run(container: Any, ctx: JobContext) -> dict[str, Any]:
    calls = ctx.options.setdefault("calls", [])
    calls.append(len(calls) + 1)
    if len(calls) <= ctx.options.get("failures", 0):
        raise ctx.options.get("exc", RuntimeError("transient failure"))
    return {"rows": 7, "calls": len(calls)}
