"""CRM connections: token expiry and connection status on accounts, the reconciliation
watermark; contacts deleted or merged in the CRM; the CRM's record id of a write-back;
webhook deliveries for portals or orgs that are not connected

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

AWARE = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("token_expires_at", AWARE, nullable=True))
        batch.add_column(sa.Column("status", sa.String(20), nullable=False,
                                   server_default="connected"))
        batch.add_column(sa.Column("disconnected_at", AWARE, nullable=True))
        batch.add_column(sa.Column("disconnect_reason", sa.String(300), nullable=True))
        batch.add_column(sa.Column("crm_synced_through", AWARE, nullable=True))
        batch.add_column(sa.Column("crm_prepared_at", AWARE, nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("deleted_at", AWARE, nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.BigInteger().with_variant(
            sa.Integer(), "sqlite"), nullable=True))
        batch.create_foreign_key("fk_contacts_merged_into_id_contacts", "contacts",
                                 ["merged_into_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("crm_writebacks") as batch:
        batch.add_column(sa.Column("record_id", sa.String(64), nullable=True))
    op.create_table(
        "unrouted_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("received_at", AWARE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_unrouted_deliveries"),
    )
    op.create_index("ix_unrouted_deliveries_source", "unrouted_deliveries",
                    ["source", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_unrouted_deliveries_source", "unrouted_deliveries")
    op.drop_table("unrouted_deliveries")
    with op.batch_alter_table("crm_writebacks") as batch:
        batch.drop_column("record_id")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("fk_contacts_merged_into_id_contacts", type_="foreignkey")
        batch.drop_column("merged_into_id")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("accounts") as batch:
        for column in ("crm_prepared_at", "crm_synced_through", "disconnect_reason",
                       "disconnected_at", "status", "token_expires_at"):
            batch.drop_column(column)
