"""Property-change triggers, CRM updates, signed outbound webhooks, holdouts, sender
overrides and the cross-flow frequency cap, through the real services."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.app import create_app
from connector.clock import VirtualClock
from connector.models import Contact, CrmWriteback, Enrollment, Message, WebhookCall
from connector.runtime import Runtime
from connector.scheduler import tick
from connector.services.accounts import AccountView, set_identity
from connector.services.outbound import webhook_secret
from tests.conftest import MakeAccount, MakeRuntime
from tests.support.http import post
from tests.support.jobs import work
from tests.support.mail import outbox
from tests.support.receiver import Receiver
from tests.support.workspaces import use_flows


def contact_update(email: str, **properties: str) -> dict[str, Any]:
    return {"contact": {"email": email, "properties": properties}, "event": "contact.updated"}


def test_property_change_updates_the_crm_and_calls_a_signed_webhook(
    rt: Runtime, client: FlaskClient, account: AccountView, tmp_path: Path, receiver: str
) -> None:
    use_flows(rt, account.id, tmp_path, **{"became-customer": f"""
name: Became customer
trigger: {{type: property.changed, property: lifecyclestage, to: customer}}
steps:
  - {{id: mark, update_property: {{property: drip_stage, value: onboarding}}}}
  - {{id: notify, webhook: {{url: "{receiver}", body: {{source: drip}}}}}}
"""})
    post(client, account, contact_update("c@example.com", lifecyclestage="lead"))
    work(rt)
    with rt.db.session() as session:
        assert session.query(Enrollment).count() == 0  # created, not changed to customer
    post(client, account, contact_update("c@example.com", lifecyclestage="customer"))
    work(rt)
    with rt.db.session() as session:
        contact = session.query(Contact).one()
        write = session.query(CrmWriteback).filter_by(kind="update_property").one()
        call = session.query(WebhookCall).one()
    assert contact.properties["drip_stage"] == "onboarding"  # the mirror, at once
    assert write.payload["property"] == "drip_stage"
    assert call.status == "done"
    (headers, body) = Receiver.received[0]
    stamp, mac = (part.split("=", 1)[1] for part in headers["X-Drip-Signature"].split(","))
    secret = webhook_secret(rt.settings.secret_key or "", account.id)
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(mac, expected.hexdigest())
    payload = json.loads(body)
    assert payload["contact"]["email"] == "c@example.com"
    assert payload["body"] == {"source": "drip"}


def test_holdout_is_recorded_and_stable(rt: Runtime, client: FlaskClient,
                                        account: AccountView, tmp_path: Path) -> None:
    use_flows(rt, account.id, tmp_path, promo="""
name: Promo
trigger: {type: event, event: promo.eligible}
settings: {reentry: always}
steps:
  - {id: control, holdout: {percent: 20, name: control}}
  - {id: offer, send: first-offer}
""")
    for n in range(60):
        post(client, account, {"contact": {"email": f"h{n}@example.com"},
                               "event": "promo.eligible"})
    work(rt)
    with rt.db.session() as session:
        held = session.query(Enrollment).filter_by(exit_reason="holdout:control").count()
        offers = session.query(Message).filter_by(template="first-offer").count()
    assert held + offers == 60
    assert 3 <= held <= 25  # about a fifth, recorded as an exit reason


@pytest.mark.parametrize("capped_by", ["deployment", "account"])
def test_sender_override_and_frequency_cap_across_flows(
    make_runtime: MakeRuntime, make_account: MakeAccount, tmp_path: Path,
    clock: VirtualClock, capped_by: str,
) -> None:
    # FREQUENCY_CAP for the whole deployment, or `accounts set --frequency-cap` for one.
    rt = make_runtime(frequency_cap="2/1d") if capped_by == "deployment" else make_runtime()
    client = create_app(rt).test_client()
    account = make_account()
    if capped_by == "account":
        with rt.db.session() as session:
            set_identity(session, rt.vault, account.id, frequency_cap="2/1d")
    flow = """
name: {name}
trigger: {{type: event, event: {event}}}
settings: {{transactional: {transactional}}}
steps:
  - {{id: mail, send: welcome, from: "Ann <ann@shop.example>"}}
"""
    use_flows(rt, account.id, tmp_path,
              a=flow.format(name="A", event="a.happened", transactional="false"),
              b=flow.format(name="B", event="b.happened", transactional="false"),
              c=flow.format(name="C", event="c.happened", transactional="false"),
              receipt=flow.format(name="R", event="c.happened", transactional="true"))
    for event in ("a.happened", "b.happened", "c.happened"):
        post(client, account, {"contact": {"email": "f@example.com"}, "event": event})
        work(rt)
    with rt.db.session() as session:
        flows_sent = sorted(m.flow_key for m in session.query(Message))
    # Two marketing emails in the window; the third waits; the transactional one is exempt.
    assert flows_sent == ["a", "b", "receipt"]
    assert all(m["From"] == "Ann <ann@shop.example>" for m in outbox(rt))
    clock.advance(timedelta(days=1, minutes=1))
    tick(rt, clock.now())
    work(rt)
    with rt.db.session() as session:
        assert session.query(Message).filter_by(flow_key="c").count() == 1
