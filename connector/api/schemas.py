"""The admin API's request and response models: they validate requests and they are the
OpenAPI document's schemas (spectree generates it from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, model_validator

from webhooks.events import EVENT_NAME, MAX_PROPERTIES, ContactValue, Email, PropertyName

FlowStatus = Literal["active", "paused", "archived"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- errors ----------------------------------------------------------------------------


class ErrorOut(BaseModel):
    """Every error: a readable `error`, sometimes with more fields."""

    error: str


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ValidationErrorOut(BaseModel):
    """422: the request did not match its schema; one entry per invalid field."""

    error: str
    details: list[FieldErrorOut]


class TemplateErrorOut(BaseModel):
    """422 of a preview: the template failed, with the file and line when known."""

    error: str
    template: str
    reason: str
    source: str | None = None
    line: int | None = None


class WorkspaceErrorOut(BaseModel):
    """422 of a deploy: every problem, each as "flows/welcome.yaml:12: message"."""

    error: str
    errors: list[str]


# ---- flows -----------------------------------------------------------------------------


class EnrollmentCountsOut(BaseModel):
    active: int
    completed: int
    exited: int


class FlowOut(BaseModel):
    key: str
    name: str
    version: str
    status: FlowStatus
    enrollments: EnrollmentCountsOut


class FlowsOut(BaseModel):
    flows: list[FlowOut]


class FlowStatusOut(BaseModel):
    key: str
    status: FlowStatus
    message: str


# ---- template preview ------------------------------------------------------------------


class PreviewContactIn(Strict):
    """An existing contact of the account (`email` or `crm_id`), or, with `properties`,
    a hypothetical one that is not stored."""

    # The document states the rules the validators apply (a client or fuzzer reads them).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["crm_id"], "properties": {"crm_id": {"type": "string"}}},
                {"required": ["properties"], "properties": {"properties": {"type": "object"}}},
            ]
        },
    )

    email: Email | None = None
    crm_id: str | None = Field(None, min_length=1, max_length=64)
    properties: dict[PropertyName, ContactValue] | None = Field(None, max_length=MAX_PROPERTIES)

    @model_validator(mode="after")
    def _named(self) -> PreviewContactIn:
        if self.properties is None and not self.email and not self.crm_id:
            raise ValueError("give contact.email or contact.crm_id, or contact.properties")
        return self

    @property
    def hypothetical(self) -> bool:
        return self.properties is not None


class PreviewEventIn(Strict):
    """The trigger event the template sees as `event` (as a flow's send would)."""

    name: str = Field(max_length=100, pattern=EVENT_NAME)
    properties: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PROPERTIES)
    occurred_at: AwareDatetime | None = None


class PreviewIn(Strict):
    contact: PreviewContactIn
    event: PreviewEventIn | None = None


class PreviewOut(BaseModel):
    subject: str
    html: str
    text: str


# ---- contact activity ------------------------------------------------------------------


class ActivityQuery(BaseModel):
    """Unknown query parameters are ignored (as everywhere in this API)."""

    limit: int = Field(100, ge=1, le=100, description="newest rows of each kind")


class ContactLookupQuery(ActivityQuery):
    email: str = Field(min_length=3, max_length=320)


class ContactOut(BaseModel):
    email: str | None
    crm_id: str | None


class EnrollmentOut(BaseModel):
    flow: str
    state: str
    entered_at: datetime
    finished_at: datetime | None
    exit_reason: str | None


class MessageOut(BaseModel):
    id: str
    flow: str | None
    template: str
    subject: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None


class EngagementOut(BaseModel):
    kind: str
    message: str = Field(description="the id of the message (as in `emails`)")
    template: str
    url: str | None
    occurred_at: datetime


class ActivityOut(BaseModel):
    contact: ContactOut
    flows: list[EnrollmentOut]
    emails: list[MessageOut]
    engagement: list[EngagementOut] = Field(description="opens, clicks, unsubscribes, bounces")


# ---- workspace deploy ------------------------------------------------------------------


class DeployQuery(BaseModel):
    dry_run: bool = Field(False, description="validate and report; change nothing")


class DeployOut(BaseModel):
    """`DeployReport.as_json()`: version, dry_run, flows added/changed/removed, ..."""

    model_config = ConfigDict(extra="allow")


# ---- campaigns -------------------------------------------------------------------------


class CampaignOut(BaseModel):
    """Where a campaign stands (`CampaignStatus.as_json()`, as `connector campaigns status
    --json`): `draft` when it is in the live workspace but was never started."""

    key: str
    name: str
    state: str = Field(description="draft, scheduled, sending, paused, sent or cancelled")
    audience: int | None = Field(description="recipients frozen at start; null before")
    sent: int
    skipped: dict[str, int] = Field(description="recipients skipped, by reason")
    failed: int
    uncertain: int = Field(description="maybe sent (a worker died mid-send): never resent")
    in_flight: int = Field(description="queued, not sent yet")
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    rate_per_minute: float
    seconds_left: int | None = Field(description="at the current rate; null when stalled")


class CampaignsOut(BaseModel):
    campaigns: list[CampaignOut]


class CampaignSendIn(Strict):
    """The whole body may be left out: the campaign starts at its `send_at` when that is
    still ahead, else now."""

    at: AwareDatetime | None = Field(
        None, description="start then instead (ISO 8601 with an offset, in the future)"
    )


class CampaignTestSendIn(Strict):
    """A test of the campaign's email (each variant, or `variant`) to these addresses,
    rendered for the contact `as` names (else the audience's first member, else a sample
    contact with placeholder properties). Recorded nowhere."""

    # services/campaigns/test_send.py's MAX_TEST_ADDRESSES (not imported: the service
    # imports previews, which imports this module); the API tests hold the two equal.
    to: list[Email] = Field(min_length=1, max_length=10,
                            description="the addresses to send the test to (at most 10)")
    as_: str | None = Field(None, alias="as", min_length=1, max_length=320,
                            description="a stored contact of the account: an email or a "
                                        "CRM id")
    variant: str | None = Field(None, min_length=1, max_length=100,
                                description="only this variant of an A/B test")


class CampaignTestContactOut(BaseModel):
    source: Literal["as", "audience", "placeholder"] = Field(
        description="named by `as`, the audience's first member, or a hypothetical contact")
    email: str | None
    crm_id: str | None


class CampaignTestEmailOut(BaseModel):
    variant: str | None = Field(description="null without an A/B test")
    subject: str = Field(description='prefixed "[Test] "')
    to: str
    size: int = Field(description="bytes handed to the transport")
    message_id: str
    contact: CampaignTestContactOut = Field(description="who it was rendered for")


class CampaignTestEmailsOut(RootModel[list[CampaignTestEmailOut]]):
    """One entry per email sent (as `connector campaigns test-send --json`)."""


# ---- POST /v1/events (webhooks/events.py; described here, not changed) ----------------


class EventAcceptedOut(BaseModel):
    status: Literal["accepted"]
    duplicate: bool
