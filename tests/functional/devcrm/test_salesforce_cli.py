"""`connector devcrm salesforce` serves an org in the foreground until interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from simple_salesforce import Salesforce

from devcrm.salesforce import plain_http_session
from devcrm.salesforce.ids import to18

ORG = to18("00D5g000004ABCD")


def test_the_cli_serves_an_org_until_interrupted() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "connector", "devcrm", "salesforce", "--port", "0",
         "--org-id", ORG[:15], "--api-limit", "7"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        match = re.search(rf"on (http://127\.0\.0\.1:\d+) \(org {ORG}", first)
        assert match, first
        token = child.stdout.readline().split(": ", 1)[1].strip()
        sf = Salesforce(instance_url=match.group(1), session_id=token,
                        session=plain_http_session())
        assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
        assert sf.api_usage["api-usage"].total == 7
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_the_cli_refuses_a_field_the_objects_lack() -> None:
    done = subprocess.run([sys.executable, "-m", "connector", "devcrm", "salesforce",
                           "--outbound-object", "Contact", "--outbound-field", "Status"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--outbound-field" in done.stderr
