"""Collection of renewal invoices: the first attempt, failed retries, recovery, write-off.

A renewal invoice is finalized and charged one hour after its creation. When that
fails the invoice stays open and the subscription is past_due; retries 3, 5 and 7 days
later (each failure an `invoice.payment_failed` with attempt_count and
next_payment_attempt) succeed, or after 15 days the invoice is written off
(uncollectible or void) and the lifecycle cancels the subscription.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.sandbox.simulation.invoicing import finalize, pay
from etl.sandbox.simulation.records import SubscriptionState

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account


def finalize_renewal(
    acct: Account, t: int, s: SubscriptionState, inv: str, fail: bool, next_attempt: int | None
) -> None:
    finalize(acct, t, inv, s, fail, next_attempt)
    if fail:
        s.set_status(t, "past_due")
        acct.sync_subscription(t, s)


def retry_failed(acct: Account, t: int, inv: str, next_attempt: int | None) -> None:
    """Another failed attempt on a still open invoice."""
    if acct.invoice_facts[inv].status != "open":
        return
    old = acct.objects["invoice"][inv]
    acct.update(
        t,
        "invoice",
        inv,
        None,
        attempt_count=old["attempt_count"] + 1,
        next_payment_attempt=next_attempt,
    )
    acct.emit(t, "invoice.payment_failed", acct.objects["invoice"][inv])


def recover(acct: Account, t: int, s: SubscriptionState, inv: str) -> None:
    """A retry succeeds: the invoice is paid and the subscription active again."""
    if acct.invoice_facts[inv].status != "open":
        return
    pay(acct, t, inv)
    if s.status == "past_due":
        s.set_status(t, "active")
        acct.sync_subscription(t, s)


def write_off(acct: Account, t: int, inv: str, void: bool) -> bool:
    """Void the still open invoice or mark it uncollectible; False if it is not open."""
    fact = acct.invoice_facts[inv]
    if fact.status != "open":
        return False
    old = acct.objects["invoice"][inv]
    if void:
        acct.update(
            t,
            "invoice",
            inv,
            None,
            status="void",
            amount_remaining=0,
            status_transitions=dict(old["status_transitions"], voided_at=t),
            next_payment_attempt=None,
        )
        acct.emit(t, "invoice.voided", acct.objects["invoice"][inv])
        fact.status = "void"
    else:
        acct.update(
            t,
            "invoice",
            inv,
            None,
            status="uncollectible",
            status_transitions=dict(old["status_transitions"], marked_uncollectible_at=t),
            next_payment_attempt=None,
        )
        acct.emit(t, "invoice.marked_uncollectible", acct.objects["invoice"][inv])
        fact.status = "uncollectible"
    return True
