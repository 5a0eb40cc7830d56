"""One HubSpot portal's data in memory, thread-safe, with the state changes that produce
webhook events. The Python methods are what a user in the CRM UI does (changeSource
CRM_UI); the HTTP routes call the same methods with source INTEGRATION after validating."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from devcrm.hubspot.definitions import builtin_groups, contact_builtins, value_problem
from devcrm.hubspot.errors import ApiError, error_body, invalid_properties, property_problem
from devcrm.hubspot.records import as_string, iso

Change = dict[str, Any]
Emit = Callable[[int, list[Change]], None]
ENGAGEMENT_KINDS = ("emails", "notes", "tasks")


class Portal:
    """A HubSpot account: contacts, engagements, property definitions and opt-outs."""

    def __init__(self, hub_id: int, private_token: str | None, emit: Emit,
                 clock: Callable[[], float] = time.time) -> None:
        self.hub_id = hub_id
        self.private_token = private_token
        self.time_zone = "US/Eastern"  # the account's setting (HubSpot's spelling is IANA)
        self.clock = clock
        self.lock = threading.RLock()
        now = iso(clock())
        self.contacts: dict[str, dict[str, Any]] = {}
        self.merged: dict[str, str] = {}  # merged-away id -> the id that absorbed it
        self.emails: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.properties: dict[str, dict[str, Any]] = contact_builtins(now)
        self.groups: dict[str, dict[str, Any]] = builtin_groups()
        self.optouts: list[dict[str, Any]] = []
        self.merge_creates_new_id = False
        self._emit = emit
        self._contact_ids = itertools.count(101)
        self._object_ids = itertools.count(30_000_000_001)

    # -- contacts ---------------------------------------------------------------------
    def create_contact(self, properties: dict[str, Any], *, source: str = "CRM_UI") -> str:
        """Create a contact and fire contact.creation (+ propertyChange) events."""
        values = {k: as_string(v) for k, v in properties.items()}
        with self.lock:
            email = values.get("email", "").lower()
            if email and self.contact_by_email(email) is not None:
                existing = self.contact_by_email(email)
                assert existing is not None
                raise ApiError(409, error_body(
                    f"Contact already exists. Existing ID: {existing['id']}", "CONFLICT"))
            contact_id = str(next(self._contact_ids))
            now = self.clock()
            stamp = iso(now)
            values.update(createdate=stamp, lastmodifieddate=stamp, hs_object_id=contact_id)
            values.setdefault("hs_email_optout", "false")
            self.contacts[contact_id] = {"id": contact_id, "properties": values,
                                         "createdAt": stamp, "updatedAt": stamp,
                                         "archived": False, "archivedAt": None}
            changes = [self._change("contact.creation", contact_id, source, changeFlag="NEW")]
            changes += [self._property_change(contact_id, name, value, source)
                        for name, value in values.items() if value != ""]
        self._emit(self.hub_id, changes)
        return contact_id

    def update_contact(self, contact_id: str, properties: dict[str, Any], *,
                       source: str = "CRM_UI") -> dict[str, Any]:
        """Set properties; one propertyChange event per property whose value changed."""
        with self.lock:
            record = self._live(contact_id)
            changes = []
            for name, raw in properties.items():
                value = as_string(raw)
                if record["properties"].get(name, "") != value:
                    record["properties"][name] = value
                    changes.append(self._property_change(record["id"], name, value, source))
            stamp = iso(self.clock())
            record["properties"]["lastmodifieddate"] = stamp
            record["updatedAt"] = stamp
        self._emit(self.hub_id, changes)
        return record

    def delete_contact(self, contact_id: str, *, source: str = "CRM_UI") -> None:
        """Archive (the recycle bin, restorable) and fire contact.deletion."""
        with self.lock:
            record = self._live(contact_id)
            record["archived"], record["archivedAt"] = True, iso(self.clock())
            change = self._change("contact.deletion", record["id"], source, changeFlag="DELETED")
        self._emit(self.hub_id, [change])

    def restore_contact(self, contact_id: str, *, source: str = "CRM_UI") -> None:
        with self.lock:
            record = self.contacts.get(contact_id)
            if record is None or not record["archived"]:
                raise KeyError(contact_id)
            record["archived"], record["archivedAt"] = False, None
            change = self._change("contact.restore", contact_id, source, changeFlag="RESTORED")
        self._emit(self.hub_id, [change])

    def gdpr_delete(self, contact_id: str, *, source: str = "CRM_UI") -> None:
        """Permanently delete: contact.privacyDeletion and a normal contact.deletion."""
        with self.lock:
            record = self.contacts.get(self.merged.get(contact_id, contact_id))
            if record is None:
                raise KeyError(contact_id)
            del self.contacts[record["id"]]
            for kind in ENGAGEMENT_KINDS:
                for engagement in self.engagements(kind).values():
                    engagement["contactIds"] = [c for c in engagement["contactIds"]
                                                if c != record["id"]]
            changes = [self._change("contact.privacyDeletion", record["id"], source,
                                    changeFlag="DELETED"),
                       self._change("contact.deletion", record["id"], source,
                                    changeFlag="DELETED")]
        self._emit(self.hub_id, changes)

    def merge(self, primary_id: str, merged_id: str, *, source: str = "CRM_UI") -> dict[str, Any]:
        """Merge merged_id into primary_id: the primary's values win, the merged contact's
        fill the gaps; both ids answer the winner from then on. The winner keeps the
        primary's id unless `merge_creates_new_id` (HubSpot gives some merges a new id)."""
        with self.lock:
            primary, merged = self._live(primary_id), self._live(merged_id)
            if primary["id"] == merged["id"]:
                raise ValueError("cannot merge a contact with itself")
            moved = 0
            for name, value in merged["properties"].items():
                if value and not primary["properties"].get(name) and name != "hs_object_id":
                    primary["properties"][name] = value
                    moved += 1
            losers = [merged["id"]]
            del self.contacts[merged["id"]]
            if self.merge_creates_new_id:
                losers.append(primary["id"])
                del self.contacts[primary["id"]]
                primary["id"] = str(next(self._contact_ids))
                primary["properties"]["hs_object_id"] = primary["id"]
                self.contacts[primary["id"]] = primary
            before = primary["properties"].get("hs_merged_object_ids", "")
            primary["properties"]["hs_merged_object_ids"] = ";".join(
                [part for part in before.split(";") if part] + [merged["id"]])
            for loser in losers:
                self.merged[loser] = primary["id"]
            for old, winner in self.merged.items():
                if winner in losers:
                    self.merged[old] = primary["id"]
            for kind in ENGAGEMENT_KINDS:
                for engagement in self.engagements(kind).values():
                    engagement["contactIds"] = sorted(
                        {primary["id"] if c in losers else c for c in engagement["contactIds"]})
            stamp = iso(self.clock())
            primary["properties"]["lastmodifieddate"], primary["updatedAt"] = stamp, stamp
            change = self._change(
                "contact.merge", primary["id"], source, changeFlag="MERGED",
                primaryObjectId=int(primary_id), mergedObjectIds=[int(merged["id"])],
                newObjectId=int(primary["id"]), numberOfPropertiesMoved=moved)
        self._emit(self.hub_id, [change])
        return primary

    def contact(self, contact_id: str, *, archived: bool = False) -> dict[str, Any] | None:
        """The record for an id (a merged-away id answers its winner), or None."""
        with self.lock:
            record = self.contacts.get(self.merged.get(contact_id, contact_id))
            if record is None or record["archived"] != archived:
                return None
            return record

    def contact_by_email(self, email: str, *, archived: bool = False) -> dict[str, Any] | None:
        with self.lock:
            for record in self.contacts.values():
                if (record["properties"].get("email", "").lower() == email.lower()
                        and record["archived"] == archived):
                    return record
            return None

    def live_contacts(self, *, archived: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return sorted((r for r in self.contacts.values() if r["archived"] == archived),
                          key=lambda r: int(r["id"]))

    def check_contact_values(self, values: dict[str, Any]) -> None:
        """Raise HubSpot's 400 for unknown properties, read-only values and bad options."""
        problems = []
        for name, raw in values.items():
            definition = self.properties.get(name)
            value = as_string(raw)
            if definition is None:
                problems.append(property_problem(name, "PROPERTY_DOESNT_EXIST",
                                                 f'Property "{name}" does not exist'))
            elif definition["modificationMetadata"]["readOnlyValue"]:
                problems.append(property_problem(name, "READ_ONLY_VALUE",
                                                 f'"{name}" is a read only property; its value '
                                                 "cannot be set."))
            elif value != "" and (problem := value_problem(definition, value)) is not None:
                problems.append(problem)
        if problems:
            raise invalid_properties(problems)

    # -- engagements -------------------------------------------------------------------
    def engagements(self, kind: str) -> dict[str, dict[str, Any]]:
        return {"emails": self.emails, "notes": self.notes, "tasks": self.tasks}[kind]

    def create_engagement(self, kind: str, properties: dict[str, Any],
                          contact_ids: Iterable[str]) -> dict[str, Any]:
        """Store an email, note or task associated with contacts (ids already checked)."""
        with self.lock:
            object_id = str(next(self._object_ids))
            stamp = iso(self.clock())
            values = {k: as_string(v) for k, v in properties.items()}
            values.update(hs_createdate=stamp, hs_lastmodifieddate=stamp, hs_object_id=object_id)
            record = {"id": object_id, "properties": values, "createdAt": stamp,
                      "updatedAt": stamp, "archived": False,
                      "contactIds": sorted({self.merged.get(c, c) for c in contact_ids})}
            self.engagements(kind)[object_id] = record
            return record

    def update_engagement(self, kind: str, object_id: str,
                          properties: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            record = self.engagements(kind).get(object_id)
            if record is None:
                raise KeyError(object_id)
            stamp = iso(self.clock())
            record["properties"].update({k: as_string(v) for k, v in properties.items()})
            record["properties"]["hs_lastmodifieddate"], record["updatedAt"] = stamp, stamp
            return record

    def timeline(self, contact_id: str) -> list[dict[str, Any]]:
        """Every email, note and task on a contact's timeline, oldest first, with `type`."""
        with self.lock:
            target = self.merged.get(contact_id, contact_id)
            items = [{"type": kind[:-1], **record} for kind in ENGAGEMENT_KINDS
                     for record in self.engagements(kind).values()
                     if target in record["contactIds"]]
        return sorted(items, key=lambda r: (r["properties"].get("hs_timestamp", ""), r["id"]))

    # -- communication preferences ------------------------------------------------------
    def opt_out(self, email: str, *, channel: str = "EMAIL", subscription_id: str | None = None,
                source: str = "INTEGRATION") -> dict[str, Any]:
        """Record an opt-out; unsubscribing from all sets hs_email_optout on the contact."""
        with self.lock:
            entry = {"email": email.lower(), "channel": channel, "subscriptionId": subscription_id,
                     "timestamp": iso(self.clock())}
            self.optouts.append(entry)
            record = self.contact_by_email(email)
        if record is not None and subscription_id is None:
            self.update_contact(record["id"], {"hs_email_optout": "true"}, source=source)
        return entry

    def opted_out(self, email: str, subscription_id: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            for entry in reversed(self.optouts):
                if (entry["email"] == email.lower()
                        and entry["subscriptionId"] in (None, subscription_id)):
                    return entry
        return None

    # -- internals -----------------------------------------------------------------------
    def _live(self, contact_id: str) -> dict[str, Any]:
        record = self.contact(contact_id)
        if record is None:
            raise KeyError(contact_id)
        return record

    def _change(self, subscription_type: str, object_id: str, source: str,
                **extra: Any) -> Change:
        return {"subscriptionType": subscription_type, "objectId": int(object_id),
                "changeSource": source, "occurredAt": int(self.clock() * 1000),
                "sourceId": "userId:1" if source == "CRM_UI" else None, **extra}

    def _property_change(self, object_id: str, name: str, value: str, source: str) -> Change:
        return self._change("contact.propertyChange", object_id, source,
                            propertyName=name, propertyValue=value)

