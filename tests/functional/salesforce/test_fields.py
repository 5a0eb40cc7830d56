"""Field names between the org and the mirror, against the emulated org: properties come
back lower-cased, a property the object does not have (another CRM's) is left out of the
query instead of failing it, writes use the org's spelling, and each object is described
once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from adapters.port import PropertyUpdate
from connector.runtime import Runtime
from devcrm.salesforce import SalesforceEmulator
from tests.functional.salesforce.test_adapter import CLIENT_ID, CLIENT_SECRET, connect, person

DESCRIBE = "/describe"


@pytest.fixture
def emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as emulator:
        yield emulator


def describes(emulator: SalesforceEmulator) -> int:
    return sum(1 for _, path, _, _ in emulator.requests if path.rstrip("/").endswith(DESCRIBE))


def test_the_repo_workspace_properties_read_from_an_org(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    ann = org.create("Contact", {"LastName": "Lee", "FirstName": "Ann",
                                 "Email": "ann@example.com", "LeadSource": "Web"})
    wanted = ["firstname", "LeadSource", "lifecyclestage", "customer_since"]  # HubSpot's too
    (found,) = crm.get_contacts(crm_ids=[ann], properties=wanted)
    assert found.properties["firstname"] == "Ann" and found.properties["leadsource"] == "Web"
    assert "lifecyclestage" not in found.properties and "FirstName" not in found.properties
    crm.get_contacts(crm_ids=[ann], properties=wanted)
    assert describes(emu) == 1  # the object's fields are kept, not asked again


def test_writes_use_the_orgs_spelling_of_a_lower_cased_name(
        rt: Runtime, redis_conn: redis.Redis, emu: SalesforceEmulator) -> None:
    org, crm, _ = connect(rt, redis_conn, emu)
    lee = person(org, "lee@example.com", "Lead")
    (result,) = crm.update_properties(updates=[
        PropertyUpdate(1, lee, "lee@example.com", {"leadsource": "Partner"})])
    assert result.ok, result.error
    assert org.find("Lead", lee)["LeadSource"] == "Partner"
