"""What every `connector campaigns` command resolves first: the account (given, or the
only one) and its live workspace's campaigns, and how an unknown key is said."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import click

from connector.cli.context import CliContext

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.engine.campaigns import Campaign

account_option = click.option(
    "--account", "account_id", type=int,
    help="The account (may be left out when there is only one).")


@contextmanager
def campaigns_in(cli: CliContext, account_id: int | None
                 ) -> Iterator[tuple[Session, int, dict[str, Campaign], datetime]]:
    """A session, the account, its live workspace's campaigns and the time: what the
    read-only commands need (no Redis)."""
    from connector.clock import SystemClock
    from connector.workspaces import Workspaces

    with cli.database().session() as session:
        account = resolve_account(session, account_id)
        defined = dict(Workspaces(cli.settings).live(session, account).workspace.campaigns)
        yield session, account, defined, SystemClock().now()


def resolve_account(session: Session, account_id: int | None) -> int:
    """The account asked for, or the only one there is."""
    from sqlalchemy import select

    from connector.models import Account

    ids = session.scalars(select(Account.id).order_by(Account.id)).all()
    if account_id is None:
        if len(ids) != 1:
            known = ", ".join(map(str, ids)) or "none yet"
            raise click.UsageError(f"give --account (accounts: {known})")
        return ids[0]
    if account_id not in ids:
        raise click.ClickException(f"no account {account_id}")
    return account_id


def unknown_campaign(key: str, account: int, defined: Mapping[str, Campaign]) -> str:
    known = ", ".join(sorted(defined)) or "none"
    return (f"account {account} has no campaign {key!r}, started or in its live workspace "
            f"(campaigns: {known})")
