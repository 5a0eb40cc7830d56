"""Template previews: render a template for a stored or hypothetical contact with the
merge context of a real send (`email.merge.message_context`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.email.merge import event_context, message_context
from connector.email.templates import RenderedEmail
from connector.models import Contact
from connector.services.activity import find_contact
from connector.services.contacts import merge_context, normalize_email

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.api.schemas import PreviewIn
    from connector.runtime import Runtime

# Links in a preview are not tracked and the unsubscribe link leads nowhere.
PREVIEW_UNSUBSCRIBE_PATH = "u/preview"


class UnknownTemplate(LookupError):
    pass


class UnknownContact(LookupError):
    pass


def preview_template(
    session: Session, rt: Runtime, account_id: int, name: str, request: PreviewIn
) -> RenderedEmail:
    """Raises UnknownTemplate, UnknownContact, or TemplateError (with file and line)."""
    live = rt.workspaces.live(session, account_id)
    templates, identity = live.workspace.templates, live.profile.identity
    if not templates.exists(name):
        raise UnknownTemplate(f"no template {name!r}")
    wanted = request.contact
    if wanted.hypothetical:
        # Never added to the session: a preview stores nothing.
        contact = Contact(
            account_id=account_id,
            email=normalize_email(wanted.email),
            crm_id=wanted.crm_id,
            properties=dict(wanted.properties or {}),
        )
    else:
        found = find_contact(session, account_id, crm_id=wanted.crm_id, email=wanted.email)
        if found is None:
            key = f"crm_id {wanted.crm_id!r}" if wanted.crm_id else f"email {wanted.email!r}"
            raise UnknownContact(f"no contact with {key}")
        contact = found
    event = None
    if request.event is not None:
        at = request.event.occurred_at or rt.clock.now()
        event = event_context(request.event.name, request.event.properties, at)
    return templates.render(
        name,
        message_context(
            contact=merge_context(contact),
            event=event,
            unsubscribe_url=f"{rt.settings.base_url}/{PREVIEW_UNSUBSCRIBE_PATH}",
            company_name=identity.company_name,
            company_address=identity.company_address,
        ),
    )
