"""Invoices keep `finalized_at`: an automatically charged invoice falls due then.

Spec section 1: `past_due_grace_days` lets an open invoice count until it is that many
days past due; Stripe leaves `due_date` null on automatically charged invoices, so the
grace never applied to them. Revenue lines' `due_date` becomes `due_date`, else
`finalized_at`. Stored invoices learn it when next fetched: the open ones, the only ones
it matters for, are fetched again by every incremental sync.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DUE = "when the invoice falls due: its due_date, else when it was finalized"


def upgrade() -> None:
    # If not there yet, as in 0002: an adopted database may already have it.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("invoices")}
    if "finalized_at" not in columns:
        with op.batch_alter_table("invoices", schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "finalized_at",
                    sa.DateTime(),
                    nullable=True,
                    comment="when it was finalized; an automatically charged invoice falls due then",
                )
            )
    if op.get_bind().dialect.name == "postgresql":  # (SQLite keeps no comments)
        op.alter_column("revenue_lines", "due_date", comment=_DUE, existing_type=sa.DateTime())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "revenue_lines", "due_date", comment="invoice due date", existing_type=sa.DateTime()
        )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("finalized_at")
