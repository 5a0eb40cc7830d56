"""Outbound Messages as Salesforce sends them: SOAP 1.1 to a local receiver, the
notifications envelope with the chosen fields, batches of at most 100, retried until the
answer is HTTP 200 with Ack true."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from devcrm.salesforce import Org, SalesforceEmulator, plain_http_session
from tests.support.receiver import Receiver

ACK = (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
       b'<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
       b"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>")
NS = {"soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
      "om": "http://soap.sforce.com/2005/09/outbound",
      "sf": "urn:sobject.enterprise.soap.sforce.com",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}


@pytest.fixture
def sf_emu() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(outbound_schedule=(0.05, 0.1, 0.1)) as emulator:
        yield emulator


@pytest.fixture
def sf_org(sf_emu: SalesforceEmulator) -> Org:
    return sf_emu.add_org()


def _notifications(body: bytes) -> ET.Element:
    found = ET.fromstring(body).find("soapenv:Body/om:notifications", NS)
    assert found is not None
    return found


def test_a_change_arrives_as_a_soap_outbound_message(sf_emu: SalesforceEmulator, sf_org: Org,
                                                     receiver: str) -> None:
    Receiver.status, Receiver.reply = 200, ACK
    action = sf_emu.outbound(sf_org, receiver, object="Contact",
                             fields=["Email", "FirstName", "HasOptedOutOfEmail"])
    contact = sf_org.create("Contact", {"LastName": "L", "Email": "a@x.io"})
    sf = Salesforce(instance_url=sf_emu.url, session_id=sf_org.access_token,
                    session=plain_http_session())
    sf.Contact.update(contact, {"FirstName": "Ann"})
    sf_org.create("Lead", {"LastName": "not sent"})
    assert sf_emu.drain(10)
    headers, body = Receiver.received[0]
    assert headers["Content-Type"] == "text/xml; charset=utf-8"
    assert headers["SOAPAction"] == '""'
    notes = _notifications(body)
    assert notes.findtext("om:OrganizationId", namespaces=NS) == sf_org.org_id
    assert notes.findtext("om:ActionId", namespaces=NS) == action.action_id
    session = notes.find("om:SessionId", NS)
    assert session is not None and session.get(f"{{{NS['xsi']}}}nil") == "true"
    assert notes.findtext("om:EnterpriseUrl", namespaces=NS).startswith(sf_emu.url)
    assert notes.findtext("om:PartnerUrl", namespaces=NS).startswith(sf_emu.url)
    sent = [n for _, b in Receiver.received for n in _notifications(b).findall(
        "om:Notification", NS)]
    assert len(sent) == 2
    assert len({n.findtext("om:Id", namespaces=NS) for n in sent}) == 2
    last = sent[-1].find("om:sObject", NS)
    assert last is not None and last.get(f"{{{NS['xsi']}}}type") == "sf:Contact"
    assert {child.tag.split("}")[1]: child.text for child in last} == {
        "Id": contact, "Email": "a@x.io", "FirstName": "Ann", "HasOptedOutOfEmail": "false"}


def test_up_to_100_notifications_per_message(sf_emu: SalesforceEmulator, sf_org: Org,
                                             receiver: str) -> None:
    Receiver.status, Receiver.reply = 200, ACK
    sf_emu.outbound(sf_org, receiver, object="Lead", fields=["Email"])
    sf_emu.outbound_sender.pause()  # queue everything first, then send
    for i in range(150):
        sf_org.create("Lead", {"LastName": f"L{i}"})
    sf_emu.outbound_sender.resume()
    assert sf_emu.drain(10)
    counts = [len(_notifications(b).findall("om:Notification", NS))
              for _, b in Receiver.received]
    assert counts == [100, 50]


def test_retried_until_acknowledged(receiver: str) -> None:
    retries = 200  # far more than the test lasts: only an Ack ends the retrying
    with SalesforceEmulator(outbound_schedule=(0.02,) * retries) as emu:
        org = emu.add_org()
        Receiver.status, Receiver.reply = 200, b"<ok/>"  # 200 without an Ack is not an ack
        emu.outbound(org, receiver, fields=["Email"])
        org.create("Contact", {"LastName": "L", "Email": "r@x.io"})
        deadline = time.monotonic() + 10
        while len(Receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not emu.drain(0.01)  # still retrying
        Receiver.status = 500
        time.sleep(0.1)
        Receiver.status, Receiver.reply = 200, ACK
        assert emu.drain(10)
        attempts = [d[0] for d in emu.outbound_deliveries]
        assert attempts == list(range(len(attempts))) and 4 <= len(attempts) < retries
        assert 500 in [d[1] for d in emu.outbound_deliveries]
        assert emu.outbound_deliveries[-1][1] == 200
    ids = {_notifications(b).findtext("om:Notification/om:Id", namespaces=NS)
           for _, b in Receiver.received}
    assert len(ids) == 1  # the same notification each time
