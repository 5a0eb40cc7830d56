"""Field names between the org and the mirror.

Salesforce's field names are case-insensitive (`FirstName`, `firstname`); the mirror keeps
them lower-cased, as HubSpot's are, so one workspace reads `firstname` from either CRM and
a Salesforce custom field is `favorite_color__c`. The org's own spelling comes from
describing the object (one call per object, kept an hour: a field added in Setup is seen
within the hour). Reads select only fields the object has: a workspace may use properties
another CRM has (`lifecyclestage`), which SOQL would refuse with INVALID_FIELD."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the webhook imports mirror_fields without the HTTP client
    from adapters.salesforce.client import SalesforceClient

DESCRIBE_TTL = 3600.0  # seconds an object's field list is trusted


def mirror_name(api_name: str) -> str:
    return api_name.lower()


def mirror_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's fields as the mirror keeps them: lower-cased, without Id and the
    REST API's `attributes`."""
    return {mirror_name(k): v for k, v in record.items() if k not in ("Id", "attributes")}


class FieldCatalog:
    """Each object's fields by lower-cased name -> the org's spelling (thread-safe)."""

    def __init__(self, client: SalesforceClient, *, ttl: float = DESCRIBE_TTL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._monotonic = monotonic
        self._known: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def names(self, sobject: str) -> dict[str, str]:
        with self._lock:
            cached = self._known.get(sobject)
        if cached is not None and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        answer = self._client.call(f"describe {sobject}", lambda sf, timeout: sf.restful(
            f"sobjects/{sobject}/describe/", timeout=timeout))
        fields = answer.get("fields") if isinstance(answer, dict) else None
        names = {mirror_name(str(f["name"])): str(f["name"])
                 for f in fields or [] if isinstance(f, dict) and f.get("name")}
        with self._lock:
            self._known[sobject] = (self._monotonic(), names)
        return names

    def select(self, sobject: str, required: Iterable[str], wanted: Iterable[str]
               ) -> list[str]:
        """The SELECT list: `required` (API names), then each wanted property the object
        has, in the org's spelling, each once."""
        chosen = {mirror_name(n): n for n in required}
        extra = [n for n in dict.fromkeys(map(mirror_name, wanted)) if n not in chosen]
        if extra:  # only then is the object described
            known = self.names(sobject)
            chosen.update((n, known[n]) for n in extra if n in known)
        return list(chosen.values())

    def api_values(self, sobject: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values to write, keyed by the org's spelling; a name the object does not have
        is sent as given (Salesforce answers INVALID_FIELD for that record alone)."""
        known = self.names(sobject)
        return {known.get(mirror_name(k), k): v for k, v in values.items()}
