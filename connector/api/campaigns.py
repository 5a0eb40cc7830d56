"""/v1/campaigns: the account's campaigns and their sends, as `connector campaigns` does
them (the same services): list, status, send, pause, resume, cancel, and a test send.

A key that is neither in the live workspace nor started is 404; a campaign that exists
but cannot do what was asked (started already, not started yet, in the wrong state) is
409, with the service's own message. A test send it refuses (a contact, variant or
address it cannot use) is 422 naming the field, as the schema's own 422s do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint
from pydantic import RootModel

from connector.api.auth import (
    JSON_BODY_ENDPOINTS,
    OPTIONAL_JSON_BODY_ENDPOINTS,
    current_account_id,
    require_api_key,
)
from connector.api.schemas import (
    CampaignOut,
    CampaignSendIn,
    CampaignsOut,
    CampaignTestEmailsOut,
    CampaignTestSendIn,
    TemplateErrorOut,
    ValidationErrorOut,
)
from connector.api.spec import responses, spec
from connector.email.errors import TemplateError
from connector.services.campaigns import (
    CampaignError,
    CampaignStatus,
    DeliveryFailed,
    RefusedTestSend,
    UnknownCampaign,
    campaign_status,
    campaign_statuses,
    cancel_campaign,
    deliver_test_emails,
    pause_campaign,
    prepare_test_emails,
    resume_campaign,
    start_campaign,
)
from webhooks.http import error, runtime

bp = Blueprint("admin_campaigns", __name__)
bp.before_request(require_api_key)

TAGS = ["campaigns"]


def _status(key: str) -> CampaignStatus | None:
    """Campaign `key` of this account, started or only in its live workspace."""
    rt, account_id = runtime(), current_account_id()
    with rt.db.session() as session:
        defined = rt.workspaces.live(session, account_id).workspace.campaigns
        return campaign_status(session, account_id, key, defined=defined, now=rt.clock.now())


def _unknown(key: str) -> Any:
    rt, account_id = runtime(), current_account_id()
    with rt.db.session() as session:
        known = ", ".join(sorted(rt.workspaces.live(session, account_id).workspace.campaigns))
    return error(404, f"no campaign {key!r}, started or in the live workspace "
                      f"(campaigns: {known or 'none'})")


def _out(status: CampaignStatus) -> CampaignOut:
    return CampaignOut.model_validate(status.as_json())


def _act(key: str, action: Callable[[], object]) -> Any:
    """Run `action` on campaign `key`, then answer with where it stands."""
    if _status(key) is None:
        return _unknown(key)
    try:
        action()
    except CampaignError as exc:
        return error(409, str(exc))
    found = _status(key)
    assert found is not None  # it existed a moment ago, and a started campaign stays
    return _out(found)


@bp.get("/v1/campaigns")
@spec.validate(resp=responses(CampaignsOut), tags=TAGS, operation_id="list_campaigns")
def list_campaigns() -> Any:
    """Every campaign of the live workspace and every one started, by key."""
    rt, account_id = runtime(), current_account_id()
    with rt.db.session() as session:
        defined = rt.workspaces.live(session, account_id).workspace.campaigns
        statuses = campaign_statuses(session, account_id, defined=defined, now=rt.clock.now())
    return CampaignsOut(campaigns=[_out(s) for s in statuses])


@bp.get("/v1/campaigns/<key>")
@spec.validate(resp=responses(CampaignOut, 404), tags=TAGS, operation_id="campaign_status")
def show_campaign(key: str) -> Any:
    """Where the campaign stands: sent of the audience, skipped by reason, failed, rate
    and time left."""
    found = _status(key)
    return _unknown(key) if found is None else _out(found)


@bp.post("/v1/campaigns/<key>/send")
@spec.validate(
    json=CampaignSendIn,
    resp=responses(CampaignOut, 400, 404, 409, 413, 415),
    tags=TAGS,
    operation_id="send_campaign",
)
def send_campaign(key: str, json: CampaignSendIn) -> Any:
    """Start the live workspace's campaign: now (its audience frozen, the workers send it
    chunk by chunk at its throttle) or, with `at` or a `send_at` still ahead, scheduled."""
    rt = runtime()
    if json.at is not None and json.at <= rt.clock.now():
        return error(422, "invalid request body", details=[{
            "field": "at", "message": f"{json.at.isoformat()} has passed (leave `at` out "
                                      "to send now)"}])
    return _act(key, lambda: start_campaign(rt, current_account_id(), key, at=json.at))


OPTIONAL_JSON_BODY_ENDPOINTS.add(f"{bp.name}.send_campaign")


@bp.post("/v1/campaigns/<key>/pause")
@spec.validate(resp=responses(CampaignOut, 404, 409), tags=TAGS, operation_id="pause_campaign")
def pause(key: str) -> Any:
    """Stop sending after the chunk in progress (resume goes on from there)."""
    return _act(key, lambda: pause_campaign(runtime(), current_account_id(), key))


@bp.post("/v1/campaigns/<key>/resume")
@spec.validate(resp=responses(CampaignOut, 404, 409), tags=TAGS, operation_id="resume_campaign")
def resume(key: str) -> Any:
    """Go on sending a paused campaign."""
    return _act(key, lambda: resume_campaign(runtime(), current_account_id(), key))


@bp.post("/v1/campaigns/<key>/cancel")
@spec.validate(resp=responses(CampaignOut, 404, 409), tags=TAGS, operation_id="cancel_campaign")
def cancel(key: str) -> Any:
    """Stop for good: the recipients not mailed yet never will be."""
    return _act(key, lambda: cancel_campaign(runtime(), current_account_id(), key))


class CampaignTestSendUnprocessableOut(RootModel[ValidationErrorOut | TemplateErrorOut]):
    """422: the body did not validate or names what cannot be used, or the template
    failed (file and line)."""


@bp.post("/v1/campaigns/<key>/test-send")
@spec.validate(
    json=CampaignTestSendIn,
    resp=responses(CampaignTestEmailsOut, 400, 404, 413, 415, 502,
                   HTTP_422=CampaignTestSendUnprocessableOut),
    tags=TAGS,
    operation_id="test_send_campaign",
)
def test_send(key: str, json: CampaignTestSendIn) -> Any:
    """Send the campaign's email (each variant, or `variant`) to at most 10 addresses,
    subject prefixed "[Test] ", in any state of the campaign. Recorded nowhere: no status,
    report, frequency cap or CRM timeline counts it; links keep the campaign's UTM
    parameters but are not tracked. A refusal or a template error sends nothing; 502:
    the mail server refused some (the error says which)."""
    rt, account_id = runtime(), current_account_id()
    try:
        with rt.db.session() as session:
            prepared = prepare_test_emails(
                session, rt.workspaces.live(session, account_id), key, to=json.to,
                as_contact=json.as_, variant=json.variant, base_url=rt.settings.base_url,
                now=rt.clock.now())
    except UnknownCampaign:
        return _unknown(key)
    except RefusedTestSend as exc:
        return error(422, "invalid request body",
                     details=[{"field": exc.field, "message": str(exc)}])
    except TemplateError as exc:
        return error(422, str(exc), template=exc.template, reason=exc.reason,
                     source=exc.source, line=exc.line)
    try:
        sent = deliver_test_emails(rt.transport, prepared)
    except DeliveryFailed as exc:
        return error(502, str(exc))
    return CampaignTestEmailsOut.model_validate([email.as_json() for email in sent])


JSON_BODY_ENDPOINTS.add(f"{bp.name}.test_send")
