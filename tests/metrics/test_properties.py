"""Properties of the engine on random histories (hypothesis)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.metrics.engine import Aggregates, ExpectedItem, Line, compute_customer
from etl.periods import add_interval, to_epoch
from tests.metrics.engine_helpers import check_identities, run, ts

PLANS = {
    "m10": ("month", 1, 1_000),
    "m25": ("month", 1, 2_500),
    "q90": ("month", 3, 9_000),
    "y120": ("year", 1, 12_000),
    "w7": ("week", 1, 700),
    "d1": ("day", 30, 999),
}
BASE = datetime(2023, 1, 1)


@st.composite
def histories(draw: st.DrawFn) -> list[Line]:
    n_customers = draw(st.integers(1, 6))
    out: list[Line] = []
    for cid in range(1, n_customers + 1):
        currency = draw(st.sampled_from(["usd", "usd", "eur"]))
        t = BASE + timedelta(days=draw(st.integers(0, 400)), hours=draw(st.integers(0, 23)))
        for _ in range(draw(st.integers(0, 8))):
            plan = draw(st.sampled_from(sorted(PLANS)))
            interval, count, amount = PLANS[plan]
            end = add_interval(t, interval, count)
            qty = draw(st.integers(1, 3))
            discount = draw(st.sampled_from([0, 0, 0, 333, amount // 2]))
            status = draw(st.sampled_from(["paid"] * 6 + ["open", "void", "draft"]))
            sub = f"s{cid}_{draw(st.integers(0, 2))}"
            out.append(
                Line(cid, currency, plan, sub, "subscription", amount * qty - discount, 0,
                     interval, count, to_epoch(t), to_epoch(end), status, to_epoch(t))
            )  # fmt: skip
            roll = draw(st.integers(0, 9))
            if roll == 0:
                # a switch half-way: credit the old plan, charge the new one
                new = draw(st.sampled_from(sorted(PLANS)))
                ni, nc, na = PLANS[new]
                mid = t + (end - t) / 2
                for p, i, c, v in ((plan, interval, count, -amount // 2), (new, ni, nc, na // 2)):
                    out.append(
                        Line(cid, currency, p, sub, "proration", v, 0, i, c, to_epoch(mid),
                             to_epoch(end), "paid", None)
                    )  # fmt: skip
            elif roll == 1:
                out.append(
                    Line(cid, currency, None, None, "one_time", draw(st.integers(1, 5_000)), 0,
                         None, None, to_epoch(t), to_epoch(t), "paid", None)
                )  # fmt: skip
            gap = draw(st.sampled_from([0, 0, 0, 0, 40, 100]))
            t = end + timedelta(days=gap)
    return out


def _as_of(draw_days: int) -> str:
    return (BASE + timedelta(days=draw_days)).isoformat()


def _expected(lines: list[Line]) -> list[ExpectedItem]:
    # every subscription id is "active" with its last plan: exercises waiting MRR
    last: dict[str, Line] = {}
    for ln in sorted(lines, key=lambda x: (x.start or 0, x.kind, x.plan_id or "")):
        if ln.subscription_id and ln.kind == "subscription":
            last[ln.subscription_id] = ln
    out = []
    for sid, ln in sorted(last.items()):
        interval, count, amount = PLANS[ln.plan_id or "m10"]
        out.append(
            ExpectedItem(ln.customer_id, sid, "active", False, None, None, ln.plan_id or "m10",
                         ln.currency, amount, 1, interval, count)
        )  # fmt: skip
    return out


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(histories(), st.integers(30, 900), st.booleans())
def test_identities_hold_every_month(lines: list[Line], days: int, waiting: bool) -> None:
    expected = _expected(lines) if waiting else []
    comp = run(lines, as_of=_as_of(days), expected=expected)
    check_identities(comp)


@PROPS
@given(histories(), st.integers(30, 900), st.randoms(use_true_random=False))
def test_order_of_input_rows_is_irrelevant(
    lines: list[Line], days: int, rnd: random.Random
) -> None:
    a = run(lines, as_of=_as_of(days), expected=_expected(lines))
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    b = run(shuffled, as_of=_as_of(days), expected=list(reversed(_expected(lines))))
    assert sorted(a.plan_rows) == sorted(b.plan_rows)
    assert sorted(a.customer_rows) == sorted(b.customer_rows)
    assert a.snapshots == b.snapshots
    assert a.monthly == b.monthly and a.by_plan == b.by_plan


@PROPS
@given(histories(), histories(), st.integers(30, 900))
def test_incremental_equals_full(before: list[Line], changes: list[Line], days: int) -> None:
    """Aggregates from (old aggregates − old rows + new rows) of changed customers equal a
    full recomputation: what `recompute` does for dirty customers."""
    as_of = _as_of(days)
    old = run(before, as_of=as_of)
    changed = {ln.customer_id for ln in changes} | ({1} if before else set())
    after = [ln for ln in before if ln.customer_id not in changed] + changes
    full = run(after, as_of=as_of)

    agg = Aggregates(
        monthly={k: list(v) for k, v in old.aggregates.monthly.items()},
        by_plan={k: list(v) for k, v in old.aggregates.by_plan.items()},
    )
    agg.add_rows(
        [r for r in old.customer_rows if r[0] in changed],
        [r for r in old.plan_rows if r[0] in changed],
        sign=-1,
    )
    params = full_params(as_of)
    for cid in sorted(changed):
        res = compute_customer(cid, [ln for ln in after if ln.customer_id == cid], params)
        agg.add_rows(res.customer_rows, res.plan_rows)
    agg.prune()
    full.aggregates.prune()
    assert agg.monthly == full.aggregates.monthly
    assert agg.by_plan == full.aggregates.by_plan


def full_params(as_of: str):  # type: ignore[no-untyped-def]
    from etl.metrics.engine import Params

    return Params(as_of=ts(as_of))


@PROPS
@given(histories(), st.integers(30, 900))
def test_recompute_is_idempotent_and_sum_of_plans_is_mrr(lines: list[Line], days: int) -> None:
    a = run(lines, as_of=_as_of(days))
    b = run(lines, as_of=_as_of(days))
    assert a.monthly == b.monthly and a.customer_rows == b.customer_rows
    totals: dict[tuple[object, str], int] = {}
    for p in a.by_plan:
        key = (p["month"], p["currency"])
        totals[key] = totals.get(key, 0) + p["total_mrr"]
    for r in a.monthly:
        assert totals.get((r["month"], r["currency"]), 0) == r["mrr"]
