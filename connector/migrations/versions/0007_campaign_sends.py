"""Campaign sends: campaigns (one row per started campaign), campaign_recipients (the
audience frozen at start) and messages.campaign_id, unique per contact

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("workspace_version", sa.Integer(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("audience", sa.Integer(), nullable=True),
        sa.Column("next_advance_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name="fk_campaigns_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("account_id", "key", name="uq_campaigns_account_id_key"),
    )
    op.create_index("ix_campaigns_state_next", "campaigns", ["state", "next_advance_at"])
    op.create_table(
        "campaign_recipients",
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("contact_id", BigId, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("variant", sa.String(100), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("skip_reason", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE",
                                name="fk_campaign_recipients_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name="fk_campaign_recipients_contact_id_contacts"),
        sa.PrimaryKeyConstraint("campaign_id", "contact_id", name="pk_campaign_recipients"),
    )
    op.create_index("ix_campaign_recipients_claim", "campaign_recipients",
                    ["campaign_id", "state", "position"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("campaign_id", BigId, nullable=True))
        batch.create_foreign_key("fk_messages_campaign_id_campaigns", "campaigns",
                                 ["campaign_id"], ["id"])
        batch.create_unique_constraint("uq_messages_campaign_id_contact_id",
                                       ["campaign_id", "contact_id"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_campaign_id_contact_id", type_="unique")
        batch.drop_constraint("fk_messages_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
    op.drop_index("ix_campaign_recipients_claim", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_campaigns_state_next", table_name="campaigns")
    op.drop_table("campaigns")
