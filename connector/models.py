"""SQLAlchemy models of the core (flows, sends, campaigns). The database is the source of
truth (DESIGN §5.1).

Every row belongs to one account (tenant) and every query filters by `account_id`.
Times are stored as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in and out; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class OutboxRow:
    """The columns of a durable outbox row: retried with backoff, failures kept visible."""

    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    def succeeded(self, now: datetime) -> None:
        self.status, self.done_at, self.last_error = "done", now, None

    def failed(self, now: datetime, error: str, *, permanent: bool,
               backoff: tuple[int, ...]) -> None:
        """Retry after the next backoff step (the claim counted the attempt), or fail for
        good once permanent or out of steps (kept visible, never dropped)."""
        self.last_error = error
        if permanent or self.attempts > len(backoff):
            self.status = "failed"
        else:
            self.next_attempt_at = now + timedelta(seconds=backoff[self.attempts - 1])


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Account(Base):
    """A connected CRM portal/org (or a standalone account): the tenant."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("provider", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))  # hubspot | salesforce | local
    external_id: Mapped[str] = mapped_column(String(64))  # portal id / 18-char org id
    name: Mapped[str] = mapped_column(String(200), default="")
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    instance_url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    # The live workspace (flows, segments, templates): a version number of this account's
    # workspace_versions; NULL until one is deployed (then nothing runs for it).
    workspace_version: Mapped[int | None] = mapped_column(Integer)
    # Sending identity and policy; NULL falls back to the deployment's settings.
    mail_from: Mapped[str | None] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    company_name: Mapped[str | None] = mapped_column(String(200))
    company_address: Mapped[str | None] = mapped_column(String(500))
    frequency_cap: Mapped[str | None] = mapped_column(String(40))
    # An IANA name ("Europe/Berlin"): a campaign's send_at without an offset is read in it.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # OAuth: when the access token runs out (NULL: a private-app token that does not).
    token_expires_at: Mapped[datetime | None]
    # connected | disconnected (uninstalled, tokens revoked): nothing runs for it then.
    status: Mapped[str] = mapped_column(String(20), default="connected",
                                        server_default="connected")
    disconnected_at: Mapped[datetime | None]
    disconnect_reason: Mapped[str | None] = mapped_column(String(300))
    # The CRM's last modification time that reconciliation has seen (its watermark).
    crm_synced_through: Mapped[datetime | None]
    # When the adapter's `prepare` (HubSpot: the app's property group) last succeeded.
    crm_prepared_at: Mapped[datetime | None]


class WorkspaceVersion(Base):
    """One deployed version of an account's workspace, every file's text kept (so any
    worker on any machine builds the same definitions); never changed, never deleted."""

    __tablename__ = "workspace_versions"
    __table_args__ = (UniqueConstraint("account_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 over paths and contents
    files: Mapped[dict[str, Any]]  # relative path -> text
    created_at: Mapped[datetime]


class Contact(Base):
    """The local mirror of a CRM contact (or a contact known only by behaviour events)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "email"),
        UniqueConstraint("account_id", "crm_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320))
    crm_id: Mapped[str | None] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Last open, click or behaviour event: inactivity triggers count from here.
    last_active_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Deleted in the CRM (personal data erased, the row kept so stats stay whole), or
    # merged into another contact (the winner): either way nothing runs for it.
    deleted_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL")
    )


class InboxEvent(Base):
    """Every inbound event, stored raw before it has any effect; dedup on the provider key."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("account_id", "source", "dedup_key"),
        Index("ix_inbox_events_pending", "processed_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))  # api | hubspot | salesforce | esp
    dedup_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class FlowVersion(Base):
    """An immutable snapshot of a flow definition; enrollments keep the one they began on."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("account_id", "flow_key", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    flow_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Enrollment(Base):
    """One contact's run through one flow; `cursor` is the next step to run."""

    __tablename__ = "enrollments"
    __table_args__ = (
        Index("ix_enrollments_due", "next_run_at"),
        # entry_key is "once" for flows entered once, else the triggering inbox event:
        # re-processing an event, or two workers racing, can never enroll twice.
        UniqueConstraint("account_id", "contact_id", "flow_key", "entry_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    flow_key: Mapped[str] = mapped_column(String(100))
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    entry_key: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="active")  # active|completed|exited
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    # Only active enrollments have a next_run_at: the due index holds no finished rows.
    next_run_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    # What a wait-for step waits on ("event:order.shipped", "segment:vip"): a matching
    # change wakes the enrollment at once instead of at its timeout.
    waiting_for: Mapped[str | None] = mapped_column(String(200))
    step_started_at: Mapped[datetime | None]  # when the current step began (wait-for)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the trigger event
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id"))
    entered_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    exit_reason: Mapped[str | None] = mapped_column(String(100))


class Message(Base):
    """The send ledger: written before the transport call, at most one per (enrollment, step)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id"),
        # A campaign mails each of its recipients once (flow rows have NULL: distinct).
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_messages_account_status", "account_id", "status"),
        # Per-contact history (facts: sends for frequency caps) and recovery sweeps.
        Index("ix_messages_contact_created", "contact_id", "created_at"),
        Index("ix_messages_status_created", "status", "created_at"),
        # The send job's claim: pending rows in id order (services/sending.py).
        Index("ix_messages_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    step_id: Mapped[str | None] = mapped_column(String(100))
    flow_key: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    template: Mapped[str] = mapped_column(String(100))
    subject_override: Mapped[str | None] = mapped_column(String(300))
    sender_override: Mapped[str | None] = mapped_column(String(320))
    # Random, unguessable; tracking tokens carry this, never a database id.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    # pending -> sending -> sent | failed | bounced | suppressed | uncertain
    status: Mapped[str] = mapped_column(String(20), default="pending")
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    message_id_header: Mapped[str | None] = mapped_column(String(200))
    links: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sending_at: Mapped[datetime | None]  # when the last transport attempt began
    # A pending row is not claimed before this (an SMTP 4xx backs it off); NULL: now.
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class EngagementEvent(Base):
    """What a recipient did with a message: open, click, unsubscribe, bounce."""

    __tablename__ = "engagement_events"
    __table_args__ = (
        Index("ix_engagement_message_kind", "message_id", "kind"),
        Index("ix_engagement_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_engagement_processed", "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(Text)
    # A click's link, by position in the email (`Message.links`): two links to one address
    # are two links (a scanner fetches both, a report counts each).
    link: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    # When the flows reacted to it (opens and clicks are triggers); NULL: not yet.
    processed_at: Mapped[datetime | None]
    # A privacy proxy's prefetch or a link scanner's fetch (connector/engine/machine.py):
    # recorded, never counted; `machine_reason` is the rule that said so.
    machine: Mapped[bool] = mapped_column(default=False, server_default=false())
    machine_reason: Mapped[str | None] = mapped_column(String(40))


class Suppression(Base):
    """An address that must not be mailed (unsubscribed, bounced, complained, CRM opt-out)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class CrmWriteback(OutboxRow, Base):
    """The durable outbox of writes to the CRM (DESIGN §5.5): nothing is dropped."""

    __tablename__ = "crm_writebacks"
    __table_args__ = (
        UniqueConstraint("account_id", "dedup_key"),
        Index("ix_crm_writebacks_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # email_sent|email_opened|email_clicked|...
    dedup_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    # The CRM's id of what was written (an email engagement): a bounce updates it.
    record_id: Mapped[str | None] = mapped_column(String(64))


class UnroutedDelivery(Base):
    """A webhook delivery for a portal or org that is not connected here: answered 2xx
    (or the CRM retries it for a day) and recorded, without effect."""

    __tablename__ = "unrouted_deliveries"
    __table_args__ = (Index("ix_unrouted_deliveries_source", "source", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime]


class ContactEvent(Base):
    """Behaviour history: what segments and conditions count ("ordered twice in 30 days")."""

    __tablename__ = "contact_events"
    __table_args__ = (Index("ix_contact_events_lookup", "contact_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id"))


class ListMembership(Base):
    """Static list membership (imported or synced from a CRM list)."""

    __tablename__ = "list_memberships"
    __table_args__ = (UniqueConstraint("account_id", "contact_id", "list_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    list_key: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime]


class SegmentMembership(Base):
    """Who is in a segment now (left_at NULL) or was; updated on every change to a contact.

    recheck_at: when time alone could change the answer (a window expiring), indexed so
    the scheduler re-evaluates only those rows.
    """

    __tablename__ = "segment_memberships"
    __table_args__ = (
        UniqueConstraint("account_id", "contact_id", "segment_key"),
        Index("ix_segment_memberships_recheck", "recheck_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    segment_key: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]
    recheck_at: Mapped[datetime | None]


class ScheduledTrigger(Base):
    """The next time a time-based trigger (date property, inactivity) fires for a contact:
    found by an indexed query, like due steps, never by scanning contacts."""

    __tablename__ = "scheduled_triggers"
    __table_args__ = (
        UniqueConstraint("account_id", "contact_id", "flow_key"),
        Index("ix_scheduled_triggers_due", "fire_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    flow_key: Mapped[str] = mapped_column(String(100))
    fire_at: Mapped[datetime]


class EnrollmentJournal(Base):
    """Every decision applied to an enrollment: the flow timeline and per-step results."""

    __tablename__ = "enrollment_journal"
    __table_args__ = (Index("ix_enrollment_journal_enrollment", "enrollment_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    flow_key: Mapped[str] = mapped_column(String(100))
    step_id: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))  # send|wait|exit|complete|branch|...
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class FlowState(Base):
    """Operator overrides of a flow's status: paused (no new entries, waiting contacts
    hold) or archived. Absent means the status in the YAML."""

    __tablename__ = "flow_states"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    flow_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime]


class WebhookCall(OutboxRow, Base):
    """Outbound webhook steps: an outbox row per (enrollment, step), signed when sent."""

    __tablename__ = "webhook_calls"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id"),
        Index("ix_webhook_calls_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]



# draft -> scheduled -> sending <-> paused -> sent; any but sent -> cancelled
CAMPAIGN_STATES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled")


class CampaignRun(Base):
    """A campaign of an account's workspace, once started (scheduled or sending): what is
    sent (`plan`, fixed at start, so a redeploy does not change a send under way), to how
    many, and where it stands."""

    __tablename__ = "campaigns"
    __table_args__ = (
        # A campaign is a one-time send: its key starts once per account.
        UniqueConstraint("account_id", "key"),
        Index("ix_campaigns_state_next", "state", "next_advance_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(16))  # the definition's digest at start
    workspace_version: Mapped[int | None] = mapped_column(Integer)
    plan: Mapped[dict[str, Any]]  # templates, subjects, variants, throttle, utm
    state: Mapped[str] = mapped_column(String(20))
    send_at: Mapped[datetime | None]
    audience: Mapped[int | None] = mapped_column(Integer)  # frozen recipients; NULL before
    # A throttled advance waits for its next window: the scheduler wakes it then.
    next_advance_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    # An A/B test with a rest: the variant sent to the rest, and why it won (the rule and
    # each variant's counts, services/campaigns/pick.py), once picked.
    winner: Mapped[str | None] = mapped_column(String(100))
    winner_reason: Mapped[dict[str, Any] | None]
    picked_at: Mapped[datetime | None]


class CampaignRecipient(Base):
    """One contact of a campaign's frozen audience: waiting, queued (its Message exists)
    or skipped (why, in `skip_reason`)."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        # The advance's claim: the next waiting recipients in keyset order.
        Index("ix_campaign_recipients_claim", "campaign_id", "state", "position"),
    )

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(BigInteger)
    variant: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting|queued|skipped
    skip_reason: Mapped[str | None] = mapped_column(String(40))
    # local_time: when this recipient's wall time comes (UTC); NULL: due at once.
    due_at: Mapped[datetime | None]
