"""Invoice lines are keyed by (invoice, line id), and so are revenue lines.

Event payloads of API versions before 2019-12-03 give invoice lines ids that several
invoices share (`sli_…` for a subscription item, `ii_…` for an invoice item): keyed by
the line id alone, a later invoice took over an earlier invoice's lines, and that
month's revenue disappeared. No stored row changes: the old key was stricter.
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database adopted from before migrations (or a development build) may already
    # have the new keys, as 0002 and 0003 allow for: change only what is not there yet.
    insp = sa.inspect(op.get_bind())
    pk = insp.get_pk_constraint("invoice_lines")
    if pk.get("constrained_columns") != ["invoice_id", "id"]:
        if op.get_bind().dialect.name == "postgresql":
            op.drop_constraint(pk["name"] or "invoice_lines_pkey", "invoice_lines", type_="primary")
            op.create_primary_key("pk_invoice_lines", "invoice_lines", ["invoice_id", "id"])
        else:
            _sqlite_primary_key("pk_invoice_lines", ["invoice_id", "id"])
    unique = {u["name"]: u["column_names"] for u in insp.get_unique_constraints("revenue_lines")}
    if unique.get("uq_revenue_line") != ["source", "invoice_id", "line_id"]:
        with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
            batch_op.drop_constraint("uq_revenue_line", type_="unique")
            batch_op.create_unique_constraint(
                "uq_revenue_line", ["source", "invoice_id", "line_id"]
            )


def downgrade() -> None:
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.drop_constraint("uq_revenue_line", type_="unique")
        batch_op.create_unique_constraint("uq_revenue_line", ["source", "line_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_invoice_lines", "invoice_lines", type_="primary")
        op.create_primary_key("invoice_lines_pkey", "invoice_lines", ["id"])
    else:
        _sqlite_primary_key("invoice_lines_pkey", ["id"])


def _sqlite_primary_key(name: str, columns: list[str]) -> None:
    """SQLite cannot alter a key: batch mode copies the table with the new one. (SQLAlchemy
    warns that the copied columns said otherwise: the new key replaces theirs, as meant.)"""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Table '_alembic_tmp_invoice_lines' specifies")
        with op.batch_alter_table("invoice_lines", recreate="always") as batch_op:
            batch_op.create_primary_key(name, columns)
