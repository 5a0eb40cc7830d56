"""One Salesforce org's records in memory, thread-safe: Contacts, Leads and Tasks (and its
own Organization row), the deleted-record log, and the change hook that feeds Outbound
Messages. The Python methods are
what a user does in the org; the REST routes call the same methods after validating."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devcrm.salesforce.errors import SfError, not_found
from devcrm.salesforce.ids import IdMaker, same_id
from devcrm.salesforce.objects import DEFAULTS, check_type, clean

OnChange = Callable[["Org", str, dict[str, Any]], None]


def sf_datetime(epoch: float) -> str:
    """Salesforce's datetime format: 2024-01-15T10:00:00.000+0000."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class Org:
    """A Salesforce org: its id, its user, its records and deletions."""

    def __init__(self, org_id: str, user_id: str, ids: IdMaker, on_change: OnChange,
                 clock: Callable[[], float] = time.time) -> None:
        self.org_id, self.user_id = org_id, user_id
        self.access_token = ""  # set by the emulation: a ready token for tests
        # The org's default timezone (Setup > Company Information): Organization's
        # TimeZoneSidKey. A new Developer Edition org is on Pacific time.
        self.time_zone = "America/Los_Angeles"
        self.clock = clock
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Any]] = {}  # id -> fields (Contact and Lead)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.deleted: list[tuple[str, str, float]] = []  # (type, id, epoch)
        self.recycle_bin: dict[str, dict[str, Any]] = {}  # what queryAll still sees
        self._ids = ids
        self._on_change = on_change

    # -- records ------------------------------------------------------------------------
    def _store(self, sobject: str) -> dict[str, dict[str, Any]]:
        return self.tasks if sobject == "Task" else self.records

    def organization(self) -> dict[str, Any]:
        """The org's Organization row (a fresh copy: the org's settings are attributes)."""
        return {"attributes": {"type": "Organization"}, "Id": self.org_id,
                "Name": "Emulated org", "TimeZoneSidKey": self.time_zone}

    def find(self, sobject: str, record_id: str) -> dict[str, Any]:
        """The live record (not a copy), or NOT_FOUND."""
        check_type(sobject)
        if sobject == "Organization":
            if same_id(self.org_id, record_id):
                return self.organization()
            raise not_found()
        with self.lock:
            for key, record in self._store(sobject).items():
                if same_id(key, record_id) and record["attributes"]["type"] == sobject:
                    return record
        raise not_found()

    def all(self, sobject: str, *, with_deleted: bool = False) -> list[dict[str, Any]]:
        if sobject == "Organization":
            return [self.organization()]
        with self.lock:
            rows = list(self._store(sobject).values())
            rows += list(self.recycle_bin.values()) if with_deleted else []
            return [dict(r) for r in rows if r["attributes"]["type"] == sobject]

    def check_references(self, sobject: str, fields: dict[str, Any]) -> None:
        """A Task's WhoId must name a Contact or Lead of this org, as Salesforce insists."""
        who = fields.get("WhoId")
        if sobject != "Task" or not who:
            return
        with self.lock:
            known = any(same_id(key, str(who)) for key in self.records)
        if not known:
            raise SfError(400, "FIELD_INTEGRITY_EXCEPTION",
                          f"Name ID: id value of incorrect type: {who}", ["WhoId"])

    def create(self, sobject: str, values: dict[str, Any], *, checked: bool = False) -> str:
        """Create a record (validated like the REST API unless `checked`); its id."""
        check_type(sobject)
        fields = values if checked else clean(sobject, values, creating=True)
        self.check_references(sobject, fields)
        record_id = self._ids.new(sobject)
        stamp = sf_datetime(self.clock())
        record: dict[str, Any] = {"attributes": {"type": sobject}, "Id": record_id,
                                  "IsDeleted": False, "OwnerId": self.user_id,
                                  **DEFAULTS[sobject], **fields, "CreatedDate": stamp,
                                  "LastModifiedDate": stamp, "SystemModstamp": stamp}
        self._name(record)
        with self.lock:
            self._store(sobject)[record_id] = record
            snapshot = dict(record)
        self._on_change(self, sobject, snapshot)
        return record_id

    def update(self, sobject: str, record_id: str, values: dict[str, Any], *,
               checked: bool = False) -> dict[str, Any]:
        """Set fields; LastModifiedDate moves and an Outbound Message is queued."""
        fields = values if checked else clean(sobject, values, creating=False)
        self.check_references(sobject, fields)
        with self.lock:
            record = self.find(sobject, record_id)
            record.update(fields)
            stamp = sf_datetime(self.clock())
            record["LastModifiedDate"] = record["SystemModstamp"] = stamp
            self._name(record)
            snapshot = dict(record)
        self._on_change(self, sobject, snapshot)
        return snapshot

    def delete(self, sobject: str, record_id: str) -> None:
        if sobject == "Organization":
            raise SfError(400, "INVALID_TYPE_FOR_OPERATION",
                          "entity type cannot be deleted: Organization")
        with self.lock:
            record = self.find(sobject, record_id)
            del self._store(sobject)[record["Id"]]
            self.recycle_bin[record["Id"]] = {**record, "IsDeleted": True}
            self.deleted.append((sobject, record["Id"], self.clock()))

    def convert_lead(self, lead_id: str) -> str:
        """Convert a Lead: a new Contact with its person fields; the Lead is marked converted
        and its Tasks move to the Contact's timeline, as Salesforce moves a Lead's activities.
        A converted Lead cannot be converted again."""
        with self.lock:
            lead = self.find("Lead", lead_id)
            if lead.get("IsConverted"):
                raise SfError(400, "CANNOT_UPDATE_CONVERTED_LEAD",
                              f"cannot reference converted lead {lead['Id']}")
            carried = {k: lead[k] for k in ("Email", "FirstName", "LastName",
                                            "HasOptedOutOfEmail", "LeadSource",
                                            "IsEmailBounced") if lead.get(k) is not None}
            contact_id = self.create("Contact", carried, checked=True)
            self.update("Lead", lead_id, {"IsConverted": True, "ConvertedContactId": contact_id,
                                          "Status": "Closed - Converted",
                                          "ConvertedDate": sf_datetime(self.clock())[:10]},
                        checked=True)
            for task in self.tasks.values():
                if same_id(str(task.get("WhoId") or ""), lead["Id"]):
                    task["WhoId"] = contact_id
        return contact_id

    def timeline(self, who_id: str) -> list[dict[str, Any]]:
        """The Tasks on a Contact's or Lead's Activity Timeline (copies), oldest first."""
        with self.lock:
            return sorted((dict(t) for t in self.tasks.values()
                           if same_id(str(t.get("WhoId") or ""), who_id)),
                          key=lambda t: (t["CreatedDate"], t["Id"]))

    @staticmethod
    def _name(record: dict[str, Any]) -> None:
        if record["attributes"]["type"] != "Task":
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(p for p in parts if p)
