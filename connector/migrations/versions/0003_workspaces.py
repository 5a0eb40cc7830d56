"""workspaces: a versioned workspace per account, flow versions and statuses per account,
per-account sending identity

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:30:00

Existing flow versions are given to the accounts whose enrollments use them (copied when
several do); existing operator statuses apply to every account, as they did.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("workspace_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("mail_from", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("reply_to", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("company_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("company_address", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("frequency_cap", sa.String(length=40), nullable=True))
    op.create_table(
        "workspace_versions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_workspace_versions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_versions")),
        sa.UniqueConstraint(
            "account_id", "version", name=op.f("uq_workspace_versions_account_id_version")
        ),
    )
    _flow_versions_per_account()
    _flow_states_per_account()


def _flow_versions_per_account() -> None:
    with op.batch_alter_table("flow_versions") as batch:
        batch.add_column(sa.Column("account_id", BigId, nullable=True))
        batch.drop_constraint("uq_flow_versions_flow_key_version", type_="unique")
    bind = op.get_bind()
    uses = bind.execute(
        sa.text(
            "SELECT DISTINCT flow_version_id, account_id FROM enrollments "
            "ORDER BY flow_version_id, account_id"
        )
    ).all()
    owned: set[int] = set()
    for version_id, account_id in uses:
        if version_id not in owned:
            owned.add(version_id)
            bind.execute(
                sa.text("UPDATE flow_versions SET account_id = :a WHERE id = :v"),
                {"a": account_id, "v": version_id},
            )
            continue
        bind.execute(
            sa.text(
                "INSERT INTO flow_versions (account_id, flow_key, version, definition, "
                "created_at) SELECT :a, flow_key, version, definition, created_at "
                "FROM flow_versions WHERE id = :v"
            ),
            {"a": account_id, "v": version_id},
        )
        copy = bind.execute(
            sa.text("SELECT max(id) FROM flow_versions WHERE account_id = :a"),
            {"a": account_id},
        ).scalar_one()
        bind.execute(
            sa.text(
                "UPDATE enrollments SET flow_version_id = :c "
                "WHERE flow_version_id = :v AND account_id = :a"
            ),
            {"c": copy, "v": version_id, "a": account_id},
        )
    bind.execute(sa.text("DELETE FROM flow_versions WHERE account_id IS NULL"))
    with op.batch_alter_table("flow_versions") as batch:
        batch.alter_column("account_id", existing_type=BigId, nullable=False)
        batch.create_unique_constraint(
            "uq_flow_versions_account_id_flow_key_version", ["account_id", "flow_key", "version"]
        )
        batch.create_foreign_key(
            "fk_flow_versions_account_id_accounts",
            "accounts",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )


def _flow_states_per_account() -> None:
    bind = op.get_bind()
    overrides = bind.execute(
        sa.text(
            "SELECT accounts.id, flow_states.flow_key, flow_states.status, "
            "flow_states.updated_at FROM flow_states CROSS JOIN accounts"
        )
    ).all()
    op.drop_table("flow_states")
    table = op.create_table(
        "flow_states",
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("flow_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_flow_states_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "flow_key", name=op.f("pk_flow_states")),
    )
    if overrides:
        op.bulk_insert(
            table,
            [
                {"account_id": a, "flow_key": k, "status": s, "updated_at": _aware(u)}
                for a, k, s, u in overrides
            ],
        )


def _aware(value: datetime | str) -> datetime:
    """SQLite hands back its text form of the time."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def downgrade() -> None:
    raise NotImplementedError("workspaces cannot be folded back into one deployment-wide set")
