"""engine facts, segments, schedules, journal

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:52:34.322292
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_states",
        sa.Column("flow_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow_key", name=op.f("pk_flow_states")),
    )
    op.create_table(
        "contact_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column(
            "inbox_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contact_events_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_events_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inbox_event_id"],
            ["inbox_events.id"],
            name=op.f("fk_contact_events_inbox_event_id_inbox_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_events")),
    )
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_events_lookup", ["contact_id", "occurred_at"], unique=False
        )

    op.create_table(
        "list_memberships",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("list_key", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_list_memberships_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_list_memberships_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_memberships")),
        sa.UniqueConstraint(
            "account_id",
            "contact_id",
            "list_key",
            name=op.f("uq_list_memberships_account_id_contact_id_list_key"),
        ),
    )
    op.create_table(
        "scheduled_triggers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("flow_key", sa.String(length=100), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_scheduled_triggers_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_scheduled_triggers_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_triggers")),
        sa.UniqueConstraint(
            "account_id",
            "contact_id",
            "flow_key",
            name=op.f("uq_scheduled_triggers_account_id_contact_id_flow_key"),
        ),
    )
    with op.batch_alter_table("scheduled_triggers", schema=None) as batch_op:
        batch_op.create_index("ix_scheduled_triggers_due", ["fire_at"], unique=False)

    op.create_table(
        "segment_memberships",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("segment_key", sa.String(length=100), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_segment_memberships_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_segment_memberships_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_memberships")),
        sa.UniqueConstraint(
            "account_id",
            "contact_id",
            "segment_key",
            name=op.f("uq_segment_memberships_account_id_contact_id_segment_key"),
        ),
    )
    with op.batch_alter_table("segment_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_segment_memberships_recheck", ["recheck_at"], unique=False)

    op.create_table(
        "enrollment_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "enrollment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("flow_key", sa.String(length=100), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_enrollment_journal_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_enrollment_journal_enrollment_id_enrollments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_journal")),
    )
    with op.batch_alter_table("enrollment_journal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollment_journal_enrollment", ["enrollment_id", "id"], unique=False
        )

    op.create_table(
        "webhook_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "enrollment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_webhook_calls_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollments.id"],
            name=op.f("fk_webhook_calls_enrollment_id_enrollments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_calls")),
        sa.UniqueConstraint(
            "enrollment_id", "step_id", name=op.f("uq_webhook_calls_enrollment_id_step_id")
        ),
    )
    with op.batch_alter_table("webhook_calls", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_calls_due", ["status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_engagement_contact_occurred", ["contact_id", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_engagement_processed", ["processed_at"], unique=False)

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_for", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_override", sa.String(length=320), nullable=True))
        batch_op.create_index(
            "ix_messages_contact_created", ["contact_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_messages_status_created", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_status_created")
        batch_op.drop_index("ix_messages_contact_created")
        batch_op.drop_column("sender_override")

    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_column("step_started_at")
        batch_op.drop_column("waiting_for")

    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_processed")
        batch_op.drop_index("ix_engagement_contact_occurred")
        batch_op.drop_column("processed_at")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("last_active_at")

    with op.batch_alter_table("webhook_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_calls_due")

    op.drop_table("webhook_calls")
    with op.batch_alter_table("enrollment_journal", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollment_journal_enrollment")

    op.drop_table("enrollment_journal")
    with op.batch_alter_table("segment_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_memberships_recheck")

    op.drop_table("segment_memberships")
    with op.batch_alter_table("scheduled_triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_triggers_due")

    op.drop_table("scheduled_triggers")
    op.drop_table("list_memberships")
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_events_lookup")

    op.drop_table("contact_events")
    op.drop_table("flow_states")
