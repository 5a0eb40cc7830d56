"""Campaign sends on the real parts: the test's database and Redis, the send path over a
real SMTP server (aiosmtpd), jobs drained in this process, the virtual clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.models import Contact, ListMembership, Message
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from connector.services.campaigns import CampaignStatus, campaign_status
from connector.workspaces import deploy_files, read_workspace
from tests.conftest import MakeRuntime
from tests.support.paths import ROOT
from tests.support.smtp import SmtpServer

UseCampaigns = Callable[..., None]


@pytest.fixture
def smtp_rt(rt: Runtime, make_runtime: MakeRuntime, smtp_server: SmtpServer) -> Runtime:
    return make_runtime(mail_url=smtp_server.url)


@pytest.fixture
def use_campaigns(smtp_rt: Runtime, account: AccountView, tmp_path: Path) -> UseCampaigns:
    """Deploy the repo's flows, segments and templates with exactly these campaigns
    (key -> YAML) to the account."""

    def use(**campaigns: str) -> None:
        folder = tmp_path / "campaigns"
        folder.mkdir(exist_ok=True)
        for stale in folder.glob("*.yaml"):
            stale.unlink()
        for key, text in campaigns.items():
            (folder / f"{key}.yaml").write_text(text)
        files = read_workspace(ROOT / "flows", ROOT / "segments", ROOT / "templates", folder)
        deploy_files(smtp_rt.db, smtp_rt.settings, account.id, files,
                     now=smtp_rt.clock.now())
        smtp_rt.workspaces.forget(account.id)

    return use


def add_contacts(rt: Runtime, account_id: int, count: int, *, list_key: str = "newsletter",
                 prefix: str = "reader") -> list[int]:
    """`count` contacts on a static list; returns their ids."""
    now = rt.clock.now()
    with rt.db.session() as session:
        contacts = [Contact(account_id=account_id, email=f"{prefix}{n}@example.com",
                            properties={"firstname": f"R{n}"}, created_at=now, updated_at=now)
                    for n in range(count)]
        session.add_all(contacts)
        session.flush()
        session.add_all(ListMembership(account_id=account_id, contact_id=c.id,
                                       list_key=list_key, added_at=now) for c in contacts)
        return [c.id for c in contacts]


def on_list(rt: Runtime, account_id: int, contact_ids: list[int], list_key: str) -> None:
    now = rt.clock.now()
    with rt.db.session() as session:
        session.add_all(ListMembership(account_id=account_id, contact_id=contact_id,
                                       list_key=list_key, added_at=now)
                        for contact_id in contact_ids)


def status_of(rt: Runtime, account_id: int, key: str) -> CampaignStatus | None:
    with rt.db.session() as session:
        defined = rt.workspaces.live(session, account_id).workspace.campaigns
        return campaign_status(session, account_id, key, defined=defined, now=rt.clock.now())


def mailed(smtp_server: SmtpServer) -> Counter[str]:
    """How many emails each address received."""
    return Counter(str(m["To"]) for m in smtp_server.messages)


def ledger(rt: Runtime, campaign_id: int) -> Counter[str]:
    """The campaign's ledger rows by status."""
    with rt.db.session() as session:
        return Counter(session.scalars(
            select(Message.status).where(Message.campaign_id == campaign_id)))


NEWSLETTER = """\
name: Newsletter
template: seasonal-sale
audience:
  list: newsletter
"""
