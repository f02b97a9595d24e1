"""Every import points down the pipeline (docs/architecture.md states the rule).

Stripe -> extract -> normalize -> load -> sync -> imports -> metrics -> report -> api ->
jobs -> cli; the shared kernel (config, errors, logs, clock, periods, currency, db) is
below all stages, the composition root (bootstrap) just above extract, and the sandbox
(a simulated Stripe) stands apart: it may use the kernel only, and no stage imports it
except the top levels that run it (jobs, cli). A module may import its own layer and
the layers below it, never one above, and nothing imports the command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

KERNEL = 0
LAYERS: dict[str, float] = {
    "etl": KERNEL,  # etl/__init__.py: the version
    "etl.config": KERNEL,
    "etl.errors": KERNEL,
    "etl.logs": KERNEL,
    "etl.clock": KERNEL,
    "etl.periods": KERNEL,
    "etl.currency": KERNEL,
    "etl.stripe_types": KERNEL,
    "etl.db": KERNEL,
    "etl.extract": 1,
    "etl.bootstrap": 1.5,
    "etl.normalize": 2,
    "etl.load": 3,
    "etl.sync": 4,
    "etl.imports": 5,
    "etl.metrics": 6,
    "etl.report": 7,
    "etl.api": 8,
    "jobs": 10,
    "etl.cli": 11,
    "etl.__main__": 11,
}
SANDBOX = "etl.sandbox"
# The sandbox serves Stripe's side of the wire: it may use only these.
SANDBOX_MAY_USE = ("etl.errors", "etl.logs", "etl.clock", "etl.periods")


def layer_of(module: str) -> tuple[str, float] | None:
    best: tuple[str, float] | None = None
    for prefix, rank in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, rank)
    return best


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            # "from etl.metrics import recompute" imports the submodule too
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return [(n, m) for n, m in out if m.split(".")[0] in ("etl", "jobs")]


def sources() -> list[Path]:
    return sorted([*ROOT.glob("etl/**/*.py"), *ROOT.glob("jobs/**/*.py")])


def wrong_way(path: Path) -> list[str]:
    me = module_name(path)
    mine = layer_of(me)
    problems: list[str] = []
    seen_lines: set[int] = set()
    for lineno, target in imports_of(path):
        if lineno in seen_lines:
            continue
        theirs = layer_of(target)
        if theirs is None or target == me:
            continue
        where = f"{path.relative_to(ROOT)}:{lineno} imports {target}"
        in_sandbox = me.startswith(SANDBOX)
        to_sandbox = target.startswith(SANDBOX)
        if in_sandbox and not to_sandbox:
            if not target.startswith(SANDBOX_MAY_USE) and target != "etl":
                problems.append(where + " (the sandbox may use the kernel only)")
            continue
        if to_sandbox and not in_sandbox:
            if mine is None or mine[1] < LAYERS["jobs"]:
                problems.append(where + " (only jobs and the CLI run the sandbox)")
            continue
        if theirs[1] == LAYERS["etl.cli"] and (mine is None or mine[1] != LAYERS["etl.cli"]):
            problems.append(where + " (nothing imports the command line)")
        elif mine is not None and theirs[1] > mine[1]:
            problems.append(where + f" (layer {mine[0]} below {theirs[0]})")
        if problems and problems[-1].startswith(f"{path.relative_to(ROOT)}:{lineno} "):
            seen_lines.add(lineno)
    return problems


def test_every_module_has_a_layer() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in sources()
        if layer_of(module_name(p)) is None and not module_name(p).startswith(SANDBOX)
    ]
    assert missing == []


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_pipeline(path: Path) -> None:
    assert wrong_way(path) == []


def test_the_checker_sees_a_wrong_way_import() -> None:
    # The rule above would pass vacuously if the checker saw nothing: feed it a module
    # of the sync that imports the metrics, and one of the jobs that imports the CLI.
    bad = ROOT / "etl" / "sync" / "_architecture_probe.py"
    bad.write_text("from etl.metrics.recompute import recompute\nimport etl.cli.app\n")
    try:
        found = wrong_way(bad)
    finally:
        bad.unlink()
    assert len(found) == 2 and "layer etl.sync below etl.metrics" in found[0]
    assert "nothing imports the command line" in found[1]
