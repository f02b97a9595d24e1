"""The recompute keeps its state in a table of its own (`recompute_state`, one row).

It used to read the settings and `as_of` of its last run back from the scheduler's
`job_runs` rows, so that deleting or pruning job history changed whether the next
recompute could be incremental. A database upgraded to this revision has no state row
yet: its first recompute is a full one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recompute_state",
        sa.Column(
            "id",
            sa.Integer(),
            autoincrement=False,
            nullable=False,
            comment="always 1: the table holds one row",
        ),
        sa.Column(
            "started_at",
            sa.DateTime(),
            nullable=False,
            comment="start of the last successful recompute; inputs updated since are recomputed",
        ),
        sa.Column(
            "as_of",
            sa.DateTime(),
            nullable=False,
            comment="the `as_of` instant that run computed the metrics at",
        ),
        sa.Column(
            "month",
            sa.Date(),
            nullable=False,
            comment="the current month of that run; a new month forces a full run",
        ),
        sa.Column(
            "timezone",
            sa.String(length=64),
            nullable=False,
            comment="reporting time zone of that run",
        ),
        sa.Column(
            "include_tax",
            sa.Boolean(),
            nullable=False,
            comment="whether that run counted tax as revenue",
        ),
        sa.Column(
            "past_due_grace_days",
            sa.Integer(),
            nullable=False,
            comment="grace days for open invoices of that run",
        ),
        sa.Column(
            "reporting_currency",
            sa.String(length=3),
            nullable=False,
            comment="reporting currency of that run's converted totals",
        ),
        sa.Column(
            "full_run", sa.Boolean(), nullable=False, comment="that run recomputed every customer"
        ),
        sa.Column("job_run_id", sa.Integer(), nullable=True, comment="job_runs.id of that run"),
        sa.PrimaryKeyConstraint("id"),
        # If not there yet, as in 0002: a database adopted from before migrations may
        # have been made by a development build that had it.
        if_not_exists=True,
        comment="The last successful recompute (one row): the settings it ran with, which decide whether the next run may be incremental, and since when inputs count as changed.",
    )


def downgrade() -> None:
    op.drop_table("recompute_state")
