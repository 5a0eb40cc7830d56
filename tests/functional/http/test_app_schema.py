"""The web app (gunicorn imports `connector.app:create_app()`) refuses to start on a
database behind the latest migration, naming the command that fixes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connector.app import create_app
from connector.migrate import SchemaBehindError, upgrade
from connector.settings import Settings, load_settings


def settings_for(tmp_path: Path, url: str) -> Settings:
    return load_settings(
        APP_ENV="test", VAR_DIR=tmp_path / "var", DATABASE_URL=url,
        REDIS_URL="redis://127.0.0.1:1/0",  # never reached: the check comes first
        SECRET_KEY="s", ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MAIL_URL=f"outbox://{tmp_path / 'outbox'}",
    )


def test_a_never_migrated_database_stops_the_web_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    with pytest.raises(SchemaBehindError, match=r"never migrated: run `connector db upgrade`"):
        create_app(settings=settings_for(tmp_path, url))
    assert not (tmp_path / "empty.sqlite3").exists()  # looking created nothing


def test_a_database_behind_the_latest_migration_stops_the_web_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0001")
    with pytest.raises(SchemaBehindError, match=r"is at 0001.*run `connector db upgrade`"):
        create_app(settings=settings_for(tmp_path, url))


def test_a_migrated_database_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    upgrade(url)
    app = create_app(settings=settings_for(tmp_path, url))
    app.extensions["runtime"].close()
