"""A campaign's test send ("send a test", as in Mailchimp): its email, each variant, to a
few addresses through the deployment's transport, prefixed "[Test] ", rendered for one
contact, and recorded nowhere.

No CampaignRun, recipient or Message row is written, so `campaigns status` and `report`,
the frequency cap and the CRM timeline never see a test: there is no ledger row to count
or write back. Its links carry the campaign's UTM parameters but are not tracked and it
has no open pixel (nothing could record an open or a click: no Message to find), and its
unsubscribe link is the preview's (`/u/preview`), which records nothing either.

Two steps, so a refusal or a template error sends nothing: `prepare_test_emails` checks
everything and builds every email (a session open), `deliver_test_emails` hands them to
the transport (none open)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from connector.email.errors import TransportError
from connector.email.links import track_links
from connector.email.merge import message_context
from connector.email.mime import build_message, make_message_id
from connector.models import CampaignRecipient, CampaignRun, Contact
from connector.segment_sql import audience_query
from connector.services.activity import find_contact
from connector.services.campaigns.plan import Choice, SendPlan, plan_of
from connector.services.contacts import (
    merge_context,
    normalize_email,
    opt_out_reason,
    suppressed_emails,
)
from connector.services.previews import PREVIEW_UNSUBSCRIBE_PATH
from webhooks.events import EMAIL

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from connector.email.transports import Transport
    from connector.workspaces.live import Live

# A test goes to the marketer and a colleague or two, not to a list.
MAX_TEST_ADDRESSES = 10
SUBJECT_PREFIX = "[Test] "
# The contact a test is rendered for when none is named and the audience gives none.
PLACEHOLDER_PROPERTIES = {"firstname": "Sample", "lastname": "Contact"}
PLACEHOLDER_EMAIL = "sample.contact@example.com"

ContactSource = Literal["as", "audience", "placeholder"]


class UnknownCampaign(LookupError):
    """Neither in the live workspace nor started (the caller lists the known ones)."""


class RefusedTestSend(ValueError):
    """A test that cannot be sent as asked; `field` is what was wrong (`to`, `as`,
    `variant`), the message says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DeliveryFailed(Exception):
    """The transport refused one or more emails; `sent` are those it took."""

    def __init__(self, message: str, sent: Sequence[SentTestEmail]) -> None:
        super().__init__(message)
        self.sent = list(sent)


@dataclass(frozen=True)
class RenderedFor:
    """The contact the test was rendered for, and how it was chosen: `as` (named),
    `audience` (the audience's first member), `placeholder` (a hypothetical contact)."""

    source: ContactSource
    email: str | None
    crm_id: str | None

    def describe(self) -> str:
        who = self.email or f"crm_id {self.crm_id}"
        if self.source == "as":
            return f"rendered for {who}"
        if self.source == "audience":
            return f"rendered for {who}, the audience's first member"
        return ("rendered for a sample contact with placeholder properties "
                f"({', '.join(f'{k} {v!r}' for k, v in PLACEHOLDER_PROPERTIES.items())}): "
                "none was named and the audience has nobody to render for")

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "email": self.email, "crm_id": self.crm_id}


@dataclass(frozen=True)
class SentTestEmail:
    variant: str | None
    subject: str
    to: str
    size: int  # bytes on the wire
    message_id: str
    contact: RenderedFor

    def as_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "subject": self.subject, "to": self.to,
                "size": self.size, "message_id": self.message_id,
                "contact": self.contact.as_json()}


@dataclass(frozen=True)
class PreparedTestSend:
    """Every email of the test, built, not sent."""

    contact: RenderedFor
    emails: list[tuple[SentTestEmail, EmailMessage]]


def prepare_test_emails(
    session: Session,
    live: Live,
    key: str,
    *,
    to: Sequence[str],
    as_contact: str | None,
    variant: str | None,
    base_url: str,
    now: datetime,
) -> PreparedTestSend:
    """Check the request and build its emails: one per variant (or the one `variant`
    names) and address. Raises UnknownCampaign, RefusedTestSend, or TemplateError (with
    file and line); reads, writes nothing."""
    account_id = live.account_id
    plan, run = _plan(session, live, key)
    addresses = _addresses(session, account_id, to)
    choices = _choices(plan, variant)
    contact, rendered_for = _contact(session, account_id, plan, run, as_contact, now)
    identity = live.profile.identity
    unsubscribe_url = f"{base_url}/{PREVIEW_UNSUBSCRIBE_PATH}"
    context = message_context(
        contact=merge_context(contact), event=None, unsubscribe_url=unsubscribe_url,
        company_name=identity.company_name, company_address=identity.company_address)
    sender = plan.sender or identity.mail_from
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    reply_to = {"Reply-To": identity.reply_to} if identity.reply_to else None
    utm = dict(plan.data.get("utm") or {})  # as sending.py reads it off the plan
    emails = []
    for choice in choices:
        # As a real send renders it (services/sending.py), but the links are the
        # campaign's own with its UTM parameters, untracked, and there is no open pixel.
        rendered = live.workspace.templates.render(choice.template, context)
        html, _ = track_links(rendered.html, lambda _index, url: url, utm=utm)
        subject = SUBJECT_PREFIX + (choice.subject or rendered.subject)
        for address in addresses:
            message_id = make_message_id(domain)
            try:
                mime = build_message(sender=sender, to=address, subject=subject, html=html,
                                     text=rendered.text, message_id=message_id,
                                     unsubscribe_url=unsubscribe_url, extra_headers=reply_to)
            except ValueError as exc:
                raise RefusedTestSend("to", f"cannot build the email to {address}: {exc}"
                                      ) from exc
            emails.append((SentTestEmail(choice.variant, subject, address,
                                         len(mime.as_bytes()), message_id, rendered_for),
                           mime))
    return PreparedTestSend(rendered_for, emails)


def deliver_test_emails(transport: Transport, prepared: PreparedTestSend
                        ) -> list[SentTestEmail]:
    """Hand each email to the transport; raises DeliveryFailed naming the ones it
    refused (the others went out)."""
    sent, failed = [], []
    for email, mime in prepared.emails:
        try:
            transport.send(mime)
        except TransportError as exc:
            failed.append(f"{email.to} ({email.variant or 'no variant'}): {exc}")
            continue
        sent.append(email)
    if failed:
        raise DeliveryFailed(f"{len(failed)} of {len(prepared.emails)} test email(s) "
                                f"not sent: {'; '.join(failed)}", sent)
    return sent


def _plan(session: Session, live: Live, key: str) -> tuple[SendPlan, CampaignRun | None]:
    """What a real send of `key` sends: a started campaign's plan, fixed at its start, or
    the live workspace's definition."""
    run = session.scalar(select(CampaignRun).where(
        CampaignRun.account_id == live.account_id, CampaignRun.key == key))
    if run is not None:
        return SendPlan(run.key, run.plan), run
    campaign = live.workspace.campaigns.get(key)
    if campaign is None:
        raise UnknownCampaign(key)
    return SendPlan(key, plan_of(campaign)), None


def _addresses(session: Session, account_id: int, to: Sequence[str]) -> list[str]:
    """The addresses as contacts are keyed (trimmed, lowercased), each once; refuses a bad
    one, too many, and any the account must not mail (suppressed, opted out)."""
    addresses: list[str] = []
    for raw in to:
        address = normalize_email(raw) or ""
        if not EMAIL.match(address) or not address.isascii():
            raise RefusedTestSend("to", f"{raw!r} is not an email address")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RefusedTestSend("to", "give at least one address to send the test to")
    if len(addresses) > MAX_TEST_ADDRESSES:
        raise RefusedTestSend("to", f"{len(addresses)} addresses: a test goes to at most "
                                    f"{MAX_TEST_ADDRESSES}")
    # Not added to the session: the suppression list is looked up by (account, address).
    unsent = {email: f"suppressed ({reason})" for (_, email), reason in suppressed_emails(
        session, [Contact(account_id=account_id, email=a) for a in addresses]).items()}
    for contact in session.scalars(select(Contact).where(
            Contact.account_id == account_id, Contact.email.in_(addresses),
            Contact.deleted_at.is_(None))):
        reason = opt_out_reason(contact)
        if reason is not None and contact.email:
            unsent.setdefault(contact.email, reason)
    refused = [f"{a} is {unsent[a]}" for a in addresses if a in unsent]
    if refused:
        raise RefusedTestSend("to", f"{'; '.join(refused)}: a test is not sent to an "
                                    "address the account must not mail (use another one)")
    return addresses


def _choices(plan: SendPlan, variant: str | None) -> list[Choice]:
    keys = plan.variant_keys
    if variant is None:
        return [plan.choice(k) for k in keys] if keys else [plan.choice(None)]
    if not keys:
        raise RefusedTestSend("variant", f"campaign {plan.key} has no variants (it is not "
                                         "an A/B test): leave the variant out")
    if variant not in keys:
        raise RefusedTestSend("variant", f"campaign {plan.key} has no variant {variant!r} "
                                         f"(variants: {', '.join(keys)})")
    return [plan.choice(variant)]


def _contact(session: Session, account_id: int, plan: SendPlan, run: CampaignRun | None,
             named: str | None, now: datetime) -> tuple[Contact, RenderedFor]:
    """The contact named (an email or a CRM id), else the audience's first member, else
    a hypothetical one with placeholder properties (never added to the session)."""
    if named is not None:
        by_email = "@" in named
        found = find_contact(session, account_id, email=named if by_email else None,
                             crm_id=None if by_email else named.strip())
        what = f"email {named!r}" if by_email else f"crm_id {named!r}"
        if found is None or found.deleted_at is not None:
            raise RefusedTestSend("as", f"account {account_id} has no contact with {what}")
        if found.merged_into_id is not None:
            raise RefusedTestSend("as", f"the contact with {what} was merged into another "
                                        "one: name that one")
        return found, RenderedFor("as", found.email, found.crm_id)
    first = _first_member(session, account_id, plan, run, now)
    if first is not None:
        return first, RenderedFor("audience", first.email, first.crm_id)
    placeholder = Contact(account_id=account_id, email=PLACEHOLDER_EMAIL, crm_id=None,
                          properties=dict(PLACEHOLDER_PROPERTIES))
    return placeholder, RenderedFor("placeholder", PLACEHOLDER_EMAIL, None)


def _first_member(session: Session, account_id: int, plan: SendPlan,
                  run: CampaignRun | None, now: datetime) -> Contact | None:
    """One indexed query: the frozen audience's first recipient once the campaign has
    one, else the first contact the audience's SQL resolves to (LIMIT 1)."""
    alive = (Contact.deleted_at.is_(None), Contact.merged_into_id.is_(None),
             Contact.email.is_not(None))
    if run is not None and run.audience is not None:
        return session.scalar(
            select(Contact).join(CampaignRecipient, CampaignRecipient.contact_id == Contact.id)
            .where(CampaignRecipient.campaign_id == run.id, *alive)
            .order_by(CampaignRecipient.position).limit(1))
    query, residual = audience_query(plan.audience, account_id=account_id, now=now)
    if residual is not None:  # the workspace check refuses these: nothing cheap to ask
        return None
    first_id = session.scalar(query.where(*alive).limit(1))
    return None if first_id is None else session.get(Contact, first_id)
