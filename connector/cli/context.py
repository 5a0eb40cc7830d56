"""What the commands share: the settings, read once, and a database opened once per command
(migrated only by commands that write; read-only ones check the schema instead)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import click

from connector.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from connector.db import Database
    from connector.runtime import Runtime


class CliContext:
    """Built lazily by the first command that asks; closed by click when the command ends."""

    def __init__(self, ctx: click.Context) -> None:
        self._ctx = ctx

    @cached_property
    def settings(self) -> Settings:
        try:
            return load_settings()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc

    def database(self, *, migrate: bool = False) -> Database:
        """The database, migrated first when `migrate` (commands that write), else checked
        to be at the latest migration (a read-only command never changes the schema)."""
        from connector.db import Database
        from connector.migrate import SchemaBehindError, check_schema, upgrade

        url = self.settings.sqlalchemy_url
        if migrate:
            upgrade(url)
        else:
            try:
                check_schema(url)
            except SchemaBehindError as exc:
                raise click.ClickException(str(exc)) from exc
        database = Database(url)
        self._ctx.call_on_close(database.dispose)
        return database

    def runtime(self, *, needs_redis: str) -> Runtime:
        """A full runtime (Redis included); `needs_redis` says why, for the error line."""
        from connector.runtime import build_runtime

        settings = self.settings
        if not settings.redis_url:
            raise click.ClickException(f"REDIS_URL is not set ({needs_redis})")
        self.database()  # the schema check, before any job could touch it
        rt = build_runtime(settings)
        self._ctx.call_on_close(rt.close)
        return rt


pass_cli = click.make_pass_decorator(CliContext)
