"""The /v1/ admin API: thin views that validate (spectree, from `schemas.py`), call a
service and serialise. Everything is scoped to the API key's account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from pydantic import RootModel

from connector.api.archive import ARCHIVE_MEDIA_TYPES, ArchiveError, extracted_workspace
from connector.api.auth import (
    JSON_BODY_ENDPOINTS,
    PUBLIC_ENDPOINTS,
    current_account_id,
    require_api_key,
)
from connector.api.schemas import (
    ActivityOut,
    ActivityQuery,
    ContactLookupQuery,
    ContactOut,
    DeployOut,
    DeployQuery,
    EngagementOut,
    EnrollmentCountsOut,
    EnrollmentOut,
    ErrorOut,
    FlowOut,
    FlowsOut,
    FlowStatusOut,
    MessageOut,
    PreviewIn,
    PreviewOut,
    TemplateErrorOut,
    ValidationErrorOut,
    WorkspaceErrorOut,
)
from connector.api.spec import document, responses, spec
from connector.email.errors import TemplateError
from connector.models import Contact
from connector.services.activity import contact_activity, find_contact
from connector.services.flow_stats import flow_summaries
from connector.services.flow_status import FlowStatusError, set_flow_status
from connector.services.previews import UnknownContact, UnknownTemplate, preview_template
from connector.workspaces import WorkspaceError, deploy_files, read_folder
from webhooks.http import error, runtime

bp = Blueprint("admin_api", __name__)
bp.before_request(require_api_key)

TAGS_FLOWS, TAGS_TEMPLATES, TAGS_CONTACTS, TAGS_WORKSPACE = (
    ["flows"],
    ["templates"],
    ["contacts"],
    ["workspace"],
)


class PreviewUnprocessableOut(RootModel[ValidationErrorOut | TemplateErrorOut]):
    """422: the body did not validate, or the template failed (file and line)."""


class DeployUnprocessableOut(RootModel[ValidationErrorOut | WorkspaceErrorOut | ErrorOut]):
    """422: bad query, an invalid workspace (every error), or no workspace folder."""


@bp.get("/v1/openapi.json")
def openapi_document() -> Any:
    """The OpenAPI 3.1 document of this API (no key needed)."""
    return jsonify(document())


PUBLIC_ENDPOINTS.add(f"{bp.name}.openapi_document")


# ---- flows -----------------------------------------------------------------------------


@bp.get("/v1/flows")
@spec.validate(resp=responses(FlowsOut), tags=TAGS_FLOWS, operation_id="list_flows")
def list_flows() -> Any:
    """Flows, with status and this account's enrollments by state."""
    rt = runtime()
    with rt.db.session() as session:
        flows = rt.workspaces.live(session, current_account_id()).flows
        summaries = flow_summaries(session, flows)
    return FlowsOut(
        flows=[
            FlowOut(
                key=s.key,
                name=s.name,
                version=s.version,
                status=s.status,  # type: ignore[arg-type]  # one of STATUSES
                enrollments=EnrollmentCountsOut(**s.enrollments),
            )
            for s in summaries
        ]
    )


def _set_status(key: str, status: str) -> Any:
    rt = runtime()
    try:
        with rt.db.session() as session:
            flows = rt.workspaces.live(session, current_account_id()).flows
            message = set_flow_status(session, flows, key, status, rt.clock.now())
    except FlowStatusError as exc:
        return error(404, str(exc))
    return FlowStatusOut(key=key, status=status, message=message)  # type: ignore[arg-type]


@bp.post("/v1/flows/<key>/pause")
@spec.validate(resp=responses(FlowStatusOut, 404), tags=TAGS_FLOWS, operation_id="pause_flow")
def pause_flow(key: str) -> Any:
    """Pause: no new entries; contacts in the flow hold where they are."""
    return _set_status(key, "paused")


@bp.post("/v1/flows/<key>/resume")
@spec.validate(resp=responses(FlowStatusOut, 404), tags=TAGS_FLOWS, operation_id="resume_flow")
def resume_flow(key: str) -> Any:
    """Resume: new entries again; held contacts carry on at once."""
    return _set_status(key, "active")


@bp.post("/v1/flows/<key>/archive")
@spec.validate(resp=responses(FlowStatusOut, 404), tags=TAGS_FLOWS, operation_id="archive_flow")
def archive_flow(key: str) -> Any:
    """Archive: no new entries; every contact in the flow exits at its next run."""
    return _set_status(key, "archived")


# ---- templates -------------------------------------------------------------------------


@bp.post("/v1/templates/<name>/preview")
@spec.validate(
    json=PreviewIn,
    resp=responses(PreviewOut, 400, 404, 413, 415, HTTP_422=PreviewUnprocessableOut),
    tags=TAGS_TEMPLATES,
    operation_id="preview",
)
def preview(name: str, json: PreviewIn) -> Any:
    """Render a template for a contact (stored or hypothetical) and an optional event,
    with the merge context of a real send. Links are not tracked in a preview."""
    rt = runtime()
    try:
        with rt.db.session() as session:
            rendered = preview_template(session, rt, current_account_id(), name, json)
    except (UnknownTemplate, UnknownContact) as exc:
        return error(404, str(exc))
    except TemplateError as exc:
        return error(
            422,
            str(exc),
            template=exc.template,
            reason=exc.reason,
            source=exc.source,
            line=exc.line,
        )
    return PreviewOut(subject=rendered.subject, html=rendered.html, text=rendered.text)


JSON_BODY_ENDPOINTS.add(f"{bp.name}.preview")


# ---- contacts --------------------------------------------------------------------------


def _activity(contact: Contact | None, limit: int, missing: str) -> Any:
    if contact is None:
        return error(404, missing)
    rt = runtime()
    with rt.db.session() as session:
        found = contact_activity(session, contact, limit)
    return ActivityOut(
        contact=ContactOut(email=contact.email, crm_id=contact.crm_id),
        flows=[EnrollmentOut(**vars(e)) for e in found.enrollments],
        emails=[MessageOut(**vars(m)) for m in found.messages],
        engagement=[EngagementOut(**vars(e)) for e in found.engagement],
    )


def _find(**key: str) -> Contact | None:
    rt = runtime()
    with rt.db.session() as session:
        contact = find_contact(session, current_account_id(), **key)
        if contact is not None:
            session.expunge(contact)
    return contact


@bp.get("/v1/contacts/<crm_id>/activity")
@spec.validate(
    query=ActivityQuery,
    resp=responses(ActivityOut, 404),
    tags=TAGS_CONTACTS,
    operation_id="contact_activity_by_crm_id",
)
def contact_activity_by_crm_id(crm_id: str, query: ActivityQuery) -> Any:
    """A contact's flows, emails, opens and clicks, newest first (the CRM app card)."""
    return _activity(_find(crm_id=crm_id), query.limit, f"no contact with crm_id {crm_id!r}")


@bp.get("/v1/contacts/activity")
@spec.validate(
    query=ContactLookupQuery,
    resp=responses(ActivityOut, 404),
    tags=TAGS_CONTACTS,
    operation_id="contact_activity_by_email",
)
def contact_activity_by_email(query: ContactLookupQuery) -> Any:
    """The same, for the contact with this `email`."""
    return _activity(
        _find(email=query.email), query.limit, f"no contact with email {query.email!r}"
    )


# ---- workspace -------------------------------------------------------------------------


@bp.post("/v1/workspace")
@spec.validate(
    query=DeployQuery,
    resp=responses(DeployOut, 400, 413, 415, HTTP_422=DeployUnprocessableOut),
    tags=TAGS_WORKSPACE,
    operation_id="deploy",
)
def deploy(query: DeployQuery) -> Any:
    """Deploy a workspace (`flows/`, `segments/`, `templates/`, optionally inside one
    top-level folder) uploaded as a tar, tar.gz or zip archive; all or nothing."""
    if request.mimetype not in ARCHIVE_MEDIA_TYPES:
        return error(415, f"send the archive as one of: {', '.join(ARCHIVE_MEDIA_TYPES)}")
    data = request.get_data(cache=False)
    try:
        with extracted_workspace(data) as folder:
            rt, account_id = runtime(), current_account_id()
            try:
                report = deploy_files(rt.db, rt.settings, account_id, read_folder(folder),
                                      now=rt.clock.now(), dry_run=query.dry_run)
            except WorkspaceError as exc:
                return error(422, "workspace is invalid", errors=list(exc.errors))
    except ArchiveError as exc:
        return error(exc.status, str(exc))
    rt.workspaces.forget(account_id)  # this process sees the new version at once
    return jsonify(report.as_json())
