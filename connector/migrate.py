"""`connector db upgrade`: Alembic migrations (the Procfile's release phase), and the check
that read-only commands make instead of migrating."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would eat a '%' in a password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


class SchemaBehindError(RuntimeError):
    """The database is not at the latest migration; the message says what to run."""


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # don't create an empty file just to look
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def check_schema(url: str) -> None:
    """Raise SchemaBehindError unless the database is at the latest migration."""
    current, head = current_revision(url), head_revision()
    if current != head:
        state = "was never migrated" if current is None else f"is at {current}, not {head}"
        raise SchemaBehindError(f"the database {state}: run `connector db upgrade`")
