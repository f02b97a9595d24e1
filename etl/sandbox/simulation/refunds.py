"""Money going back after an invoice is paid: refunds and credit notes.

Both are scheduled by `invoicing.pay` for a few paid invoices. A refund names the
invoice payment's charge and payment intent (so a sync maps refund -> invoice through
the payment intent); a credit note is refunded to the card, one per invoice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.sandbox.simulation.render import credit_note_obj, refund_obj

if TYPE_CHECKING:
    from etl.sandbox.simulation.account import Account


def refund(
    acct: Account, t: int, inv_id: str, full_share: float = 0.5, part: int = 2
) -> tuple[str, int]:
    """Refund the invoice's payment, in full or in part; returns (refund id, amount)."""
    ch, pi, amt = acct.payments[inv_id]
    inv = acct.objects["invoice"][inv_id]
    amount = amt if acct.rng.random() < full_share else max(1, amt // part)
    rid = acct.ids.new("re")
    ref = refund_obj(
        rid, amount, inv["currency"], t, ch, pi, inv["customer"], "requested_by_customer"
    )
    acct.put("refund", ref)
    acct.emit(t, "refund.created", ref)
    return rid, amount


def credit_note(acct: Account, t: int, inv_id: str) -> None:
    """A credit note on a paid invoice, refunded to the card (one per invoice)."""
    inv = acct.objects["invoice"][inv_id]
    rid, amount = refund(acct, t, inv_id, full_share=0.4, part=3)
    cnid = acct.ids.new("cn")
    number = f"{inv['number']}-CN-01"
    line_id = inv["lines"]["data"][0]["id"]
    cn = credit_note_obj(cnid, number, inv, amount, t, line_id, rid, "product_unsatisfactory")
    acct.put("credit_note", cn)
    acct.emit(t, "credit_note.created", cn)
    acct.update(
        t,
        "invoice",
        inv_id,
        "invoice.updated",
        post_payment_credit_notes_amount=inv["post_payment_credit_notes_amount"] + amount,
    )
