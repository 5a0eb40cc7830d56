"""Campaign A/B winners and local times: campaigns.winner, winner_reason (the rule and
each variant's counts), picked_at; campaign_recipients.due_at (a local_time recipient's
wall time in UTC)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("winner", sa.String(100), nullable=True))
        batch.add_column(sa.Column("winner_reason", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaign_recipients") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_recipients") as batch:
        batch.drop_column("due_at")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("picked_at")
        batch.drop_column("winner_reason")
        batch.drop_column("winner")
