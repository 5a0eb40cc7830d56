"""Opens and clicks by machines (privacy proxies, link scanners) are flagged, with the rule
that said so (existing rows count as human, as they did); a click keeps its link's position
in the email

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("engagement_events") as batch:
        batch.add_column(sa.Column("machine", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("machine_reason", sa.String(40), nullable=True))
        batch.add_column(sa.Column("link", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("engagement_events") as batch:
        batch.drop_column("link")
        batch.drop_column("machine_reason")
        batch.drop_column("machine")
