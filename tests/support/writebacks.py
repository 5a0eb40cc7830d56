"""Sent emails in the test's database, of a campaign or of a flow, and their CRM
write-backs queued the way the send path queues them (`queue_message_writebacks`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from connector.models import CampaignRun, Contact, Message
from connector.runtime import Runtime
from connector.services.writeback import (
    MessageWriteback,
    campaign_names,
    queue_message_writebacks,
)


def sent_emails(rt: Runtime, account_id: int, recipients: Sequence[tuple[str | None, str]],
                *, campaign: str | None, subject: str = "Subject {n}") -> list[int]:
    """One sent email to each (CRM id, address), a new contact each; of a campaign named
    `campaign` (started now), or of the welcome flow (None). Returns the messages' ids."""
    now = rt.clock.now()
    prefix = "c" if campaign else "f"
    with rt.db.session() as session:
        run = None
        if campaign is not None:
            key = f"campaign-{session.query(CampaignRun).count()}"
            run = CampaignRun(account_id=account_id, key=key,
                              name=campaign, version="v1", plan={}, state="sending",
                              created_at=now, started_at=now)
            session.add(run)
        contacts = [Contact(account_id=account_id, crm_id=crm_id, email=email, properties={},
                            created_at=now, updated_at=now) for crm_id, email in recipients]
        session.add_all(contacts)
        session.flush()
        taken = session.query(Message).count()  # public ids unique across calls
        messages = [Message(account_id=account_id, contact_id=c.id,
                            campaign_id=run.id if run else None,
                            flow_key=None if run else "welcome",
                            template="seasonal-sale" if run else "welcome",
                            public_id=f"{prefix}{taken + n:031d}", to_email=str(c.email),
                            subject=subject.format(n=n), status="sent", created_at=now,
                            sent_at=now)
                    for n, c in enumerate(contacts)]
        session.add_all(messages)
        session.flush()
        return [m.id for m in messages]


def writebacks(rt: Runtime, message_ids: Sequence[int], kind: str, *,
               text: str | None = None) -> list[MessageWriteback]:
    """What a sender has at hand: the loaded messages and their campaigns' names."""
    with rt.db.session() as session:
        messages = session.scalars(select(Message).where(Message.id.in_(message_ids))
                                   .order_by(Message.id)).all()
        names = campaign_names(session, messages)
        session.expunge_all()
    return [MessageWriteback(m, kind, text=text,
                             campaign=names[m.campaign_id] if m.campaign_id else None)
            for m in messages]


def queue(rt: Runtime, message_ids: Sequence[int], kind: str, *,
          text: str | None = None) -> int:
    """Queue these emails' write-backs in one batch; returns how many were new."""
    batch = writebacks(rt, message_ids, kind, text=text)
    with rt.db.session() as session:
        return queue_message_writebacks(session, batch, rt.clock.now())
