"""Finding email engagements we may already have created: a contact's associated emails
(associations v4 batch read), then those emails' `hs_email_headers`, matched on the
write-back id and message id we put there. Search cannot do it: its index lags by seconds,
and these are records whose create just went unanswered.

Cost: one request per 1,000 contacts (more when one has over a page of emails), plus one
per 100 emails not yet read by this finder; headers never change, so a finder asked again
(while an unanswered create may still land) reads only emails it has not seen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.errors import RetryableCRMError
from adapters.hubspot.client import HubSpotClient, SdkApis, SdkCall
from adapters.hubspot.contacts import BATCH_SIZE, chunks

ASSOCIATION_BATCH = 1000  # HubSpot's limit of inputs per associations batch read
# A contact without emails is an error entry of a 207, not an empty result.
NO_ASSOCIATIONS = "crm.associations.NO_ASSOCIATIONS_FOUND"


@dataclass(frozen=True)
class Sought:
    """An email engagement of ours that may exist on this contact's timeline."""

    contact_id: str
    writeback_id: int
    message_id: str


class EmailFinder:
    """Looks for email engagements of ours, remembering the headers it has read."""

    def __init__(self, client: HubSpotClient) -> None:
        self._client = client
        self._tags: dict[str, tuple[str, str] | None] = {}  # email id -> (writeback, message)

    def find(self, sought: Sequence[Sought]) -> dict[Sought, str]:
        """The email record id of each sought engagement that exists (the others are left
        out); raises RetryableCRMError when HubSpot cannot say."""
        if not sought:
            return {}
        emails = self._associated_emails(sorted({s.contact_id for s in sought}))
        self._read_tags([e for ids in emails.values() for e in ids if e not in self._tags])
        found: dict[Sought, str] = {}
        for item in sought:
            wanted = (str(item.writeback_id), item.message_id)
            for email_id in emails.get(item.contact_id, ()):
                if self._tags.get(email_id) == wanted:
                    found[item] = email_id
                    break
        return found

    def look_after_unanswered(self, sought: Sequence[Sought]) -> tuple[dict[Sought, str], float]:
        """Look a few times for what an unanswered create may have landed (HubSpot can hold
        a request past our timeout, then carry it out): what was found, and the seconds
        waited. Stops early when all is found, or when HubSpot cannot say."""
        config = self._client.config
        found: dict[Sought, str] = {}
        waited = 0.0
        for factor in config.unanswered_looks:
            self._client.wait(factor * config.timeout)
            waited += factor * config.timeout
            try:
                found.update(self.find([s for s in sought if s not in found]))
            except RetryableCRMError:
                break  # the retry looks again (the row is maybe_written) before creating
            if len(found) == len(sought):
                break
        return found, waited

    def _associated_emails(self, contact_ids: list[str]) -> dict[str, list[str]]:
        emails: dict[str, list[str]] = {c: [] for c in contact_ids}
        pending: list[dict[str, str]] = [{"id": c} for c in contact_ids]
        while pending:
            following: list[dict[str, str]] = []
            for chunk in chunks(pending, ASSOCIATION_BATCH):
                reply = self._client.sdk("read email associations", _read_associations(list(chunk)))
                data = reply.data if isinstance(reply.data, dict) else {}
                for result in data.get("results") or []:
                    contact = str((result.get("from") or {}).get("id", ""))
                    emails.setdefault(contact, []).extend(
                        str(t["toObjectId"]) for t in result.get("to") or [] if "toObjectId" in t)
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        following.append({"id": contact, "after": str(after)})
                _check_errors(data.get("errors") or [])
            pending = following
        return emails

    def _read_tags(self, email_ids: Iterable[str]) -> None:
        for chunk in chunks(list(dict.fromkeys(email_ids)), BATCH_SIZE):
            reply = self._client.sdk("read email engagements", _read_emails(chunk))
            data = reply.data if isinstance(reply.data, dict) else {}
            for record in data.get("results") or []:
                self._tags[str(record.get("id"))] = _tag(record.get("properties") or {})
            # An email deleted since it was listed answers in `errors`: it is not ours to find.
            for email_id in chunk:
                self._tags.setdefault(email_id, None)


def _check_errors(errors: list[dict[str, Any]]) -> None:
    """Tolerate "no emails" and "no such contact" (nothing to find there); anything else
    means we cannot tell whether the engagement exists, and creating it could duplicate."""
    for error in errors:
        if error.get("subCategory") == NO_ASSOCIATIONS or error.get("category") == \
                "OBJECT_NOT_FOUND":
            continue
        raise RetryableCRMError("HubSpot read email associations: "
                                f"{error.get('message') or error.get('category')}")


def _tag(properties: dict[str, Any]) -> tuple[str, str] | None:
    """(writeback id, message id) from the headers we write on each engagement."""
    try:
        headers = json.loads(properties.get("hs_email_headers") or "")
    except (TypeError, ValueError):
        return None
    if not isinstance(headers, dict) or headers.get("writebackId") is None:
        return None
    return str(headers["writebackId"]), str(headers.get("messageId") or "")


def _read_associations(inputs: list[dict[str, str]]) -> SdkCall:
    def call(apis: SdkApis, options: dict[str, Any]) -> Any:
        return apis.associations_batch.get_page(
            "contacts", "emails",
            batch_input_public_fetch_associations_batch_request={"inputs": inputs}, **options)
    return call


def _read_emails(email_ids: Sequence[str]) -> SdkCall:
    body = {"properties": ["hs_email_headers"], "inputs": [{"id": e} for e in email_ids]}

    def call(apis: SdkApis, options: dict[str, Any]) -> Any:
        return apis.emails_batch.read(batch_read_input_simple_public_object_id=body, **options)
    return call
