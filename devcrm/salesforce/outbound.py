"""Outbound Messages: per-org configs (target URL, object, fields); a sender thread that
batches an org's notifications (<= 100 per SOAP 1.1 POST) and retries each batch until the
answer is HTTP 200 with a SOAP body whose Ack is true."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import requests

from devcrm.salesforce.ids import IdMaker

MAX_BATCH = 100
DEFAULT_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0)
_ACK = re.compile(rb"<(?:\w+:)?Ack>\s*true\s*</(?:\w+:)?Ack>")


@dataclass
class OutboundConfig:
    """One Outbound Message action: which object's changes go where, with which fields."""

    action_id: str
    org_id: str
    target_url: str
    sobject: str
    fields: list[str]
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Batch:
    config: OutboundConfig
    notifications: list[tuple[str, dict[str, Any]]]
    attempt: int = 0
    due: float = 0.0


def _value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else escape(str(value))


def envelope(config: OutboundConfig, notifications: list[tuple[str, dict[str, Any]]],
             base_url: str, version: str) -> str:
    """The SOAP message exactly as Salesforce sends it (null fields are left out)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv='
             '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/'
             'XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n <soapenv:Body>'
             '\n  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">\n',
             f"   <OrganizationId>{config.org_id}</OrganizationId>\n",
             f"   <ActionId>{config.action_id}</ActionId>\n",
             '   <SessionId xsi:nil="true"/>\n',
             f"   <EnterpriseUrl>{base_url}/services/Soap/c/{version}/{config.org_id[:15]}"
             "</EnterpriseUrl>\n",
             f"   <PartnerUrl>{base_url}/services/Soap/u/{version}/{config.org_id[:15]}"
             "</PartnerUrl>\n"]
    for notification_id, record in notifications:
        parts.append(f"   <Notification>\n    <Id>{notification_id}</Id>\n"
                     f'    <sObject xsi:type="sf:{config.sobject}" '
                     'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">\n')
        for name in ["Id"] + [f for f in config.fields if f != "Id"]:
            if record.get(name) is not None:
                parts.append(f"     <sf:{name}>{_value(record[name])}</sf:{name}>\n")
        parts.append("    </sObject>\n   </Notification>\n")
    parts.append("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n")
    return "".join(parts)


class OutboundSender:
    """Background delivery of Outbound Messages; `deliveries` logs (attempt, outcome, n)."""

    def __init__(self, ids: IdMaker, *, base_url: str = "", version: str = "59.0",
                 schedule: tuple[float, ...] = DEFAULT_SCHEDULE, timeout: float = 10.0) -> None:
        self.base_url, self.version = base_url, version
        self.schedule, self.timeout = schedule, timeout
        self.configs: list[OutboundConfig] = []
        self.deliveries: list[tuple[int, int | str, int]] = []
        self.bodies: list[str] = []
        self._ids = ids
        self._queue: list[_Batch] = []
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._paused = False
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sf-outbound", daemon=True)
        self._thread.start()

    def configure(self, org_id: str, target_url: str, sobject: str,
                  fields: list[str]) -> OutboundConfig:
        config = OutboundConfig(self._ids.new("OutboundAction"), org_id, target_url, sobject,
                                list(fields))
        with self._cond:
            self.configs.append(config)
        return config

    def notify(self, org_id: str, sobject: str, record: dict[str, Any]) -> None:
        """Queue a notification of this record for every matching config."""
        with self._cond:
            for config in self.configs:
                if config.org_id == org_id and config.sobject == sobject:
                    config.pending.append((self._ids.new("Notification"), record))
                    self._cond.notify_all()

    def pause(self) -> None:
        """Hold deliveries (notifications keep queueing), e.g. to see them batched."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending, waiting for a retry or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._queue or self._in_flight
                   or any(c.pending for c in self.configs)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._session.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                if self._paused:
                    self._cond.wait(0.5)
                    continue
                now = time.monotonic()
                for config in self.configs:
                    while config.pending:
                        chunk, config.pending = (config.pending[:MAX_BATCH],
                                                 config.pending[MAX_BATCH:])
                        self._queue.append(_Batch(config, chunk, due=now))
                ready = [b for b in self._queue if b.due <= now]
                self._queue = [b for b in self._queue if b.due > now]
                self._in_flight += len(ready)
                if not ready:
                    wait = min((b.due - now for b in self._queue), default=0.5)
                    self._cond.wait(max(0.001, wait))
                    continue
            for batch in ready:  # one connection, in order, as one org's messages go
                self._deliver(batch)

    def _deliver(self, batch: _Batch) -> None:
        body = envelope(batch.config, batch.notifications, self.base_url, self.version)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
                   "User-Agent": "Salesforce - Outbound Notification"}
        outcome: int | str
        try:
            answer = self._session.post(batch.config.target_url, data=body.encode(),
                                        headers=headers, timeout=self.timeout)
            outcome = answer.status_code
            acked = answer.status_code == 200 and bool(_ACK.search(answer.content))
        except requests.RequestException as exc:
            outcome, acked = type(exc).__name__, False
        with self._cond:
            self.bodies.append(body)
            self.deliveries.append((batch.attempt, outcome, len(batch.notifications)))
            if not acked and batch.attempt < len(self.schedule) and not self._stopped:
                due = time.monotonic() + self.schedule[batch.attempt]
                self._queue.append(_Batch(batch.config, batch.notifications,
                                          batch.attempt + 1, due))
            self._in_flight -= 1
            self._cond.notify_all()
