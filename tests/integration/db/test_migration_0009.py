"""0009 adds accounts.timezone: existing accounts keep their rows with none (the
deployment's TIMEZONE), and the downgrade drops the column again, rows kept."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import MetaData, Table, create_engine, insert, inspect, select

from connector.migrate import alembic_config, upgrade
from tests.integration.db.test_migrations import scratch_url  # noqa: F401  (a fixture)


def test_0009_gives_accounts_a_timezone_column_and_takes_it_back(
    scratch_url: str,  # noqa: F811
) -> None:
    upgrade(scratch_url, "0008")
    engine = create_engine(scratch_url)
    with engine.begin() as connection:
        accounts = Table("accounts", MetaData(), autoload_with=connection)
        connection.execute(insert(accounts).values(
            id=1, provider="hubspot", external_id="1", name="", api_key_hash="h",
            api_key_encrypted=b"k", created_at=datetime(2026, 12, 3, tzinfo=UTC),
            frequency_cap="3/7d"))

    upgrade(scratch_url)
    with engine.connect() as connection:
        accounts = Table("accounts", MetaData(), autoload_with=connection)
        assert connection.execute(select(accounts.c.frequency_cap, accounts.c.timezone)
                                  ).all() == [("3/7d", None)]

    command.downgrade(alembic_config(scratch_url), "0008")
    with engine.connect() as connection:
        assert "timezone" not in {c["name"] for c in inspect(connection).get_columns("accounts")}
        accounts = Table("accounts", MetaData(), autoload_with=connection)
        assert connection.execute(select(accounts.c.frequency_cap)).all() == [("3/7d",)]
    engine.dispose()
