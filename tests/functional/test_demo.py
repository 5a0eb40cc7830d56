"""`connector demo` end to end, as a new user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.functional.test_serve import alive, descendants
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_loop_and_leaves_nothing_running(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "MAIL_URL", "PUBLIC_BASE_URL")}
    env.update(VAR_DIR=str(tmp_path / "var"), COLUMNS="200")
    process = subprocess.Popen([sys.executable, "-m", "connector", "demo"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: set[int] = set()
    output_lines: list[str] = []
    reader = threading.Thread(target=lambda: output_lines.extend(process.stdout or []))
    reader.start()
    while process.poll() is None:
        seen |= descendants(process.pid)
        time.sleep(0.05)
    reader.join()
    output = "".join(output_lines)
    assert process.returncode == 0, output

    def figure(name: str) -> int:
        match = re.search(rf"{name}\s*│\s*(\d+)", output)
        assert match, f"no {name!r} in the summary:\n{output}"
        return int(match.group(1))

    # HubSpot: Ada opens and clicks her welcome and the spring sale, Alan clicks, Grace
    # unsubscribes; Salesforce: Hedy opens, Margaret unsubscribes.
    assert figure("opens") == 3 and figure("clicks") == 3 and figure("unsubscribes") == 2
    assert figure("emails sent") >= 20
    assert figure("of which written to the CRM") == figure("CRM write-backs queued")
    emails = list((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(emails) == figure("emails sent")
    assert (tmp_path / "var" / "demo" / "timeline-alan.svg").read_text().startswith("<svg")
    assert "exited (unsubscribed)" in output  # Grace's one-click unsubscribe ended her series

    # The spring sale went to the portal's engaged readers, Ada and Alan (nobody is a VIP);
    # Ada opened it and clicked its first link, six hours on.
    sale = output.split("Spring sale (spring-sale): sent", 1)[1].split("CRM Drip Connector", 1)[0]
    funnel = {label: int(n) for label, n in re.findall(r"│ ([a-z ()]+?)\s*│ (\d+)", sale)}
    assert {k: funnel[k] for k in ("audience", "sent", "opened (people)", "clicked (people)",
                                   "unsubscribed")} == {
        "audience": 2, "sent": 2, "opened (people)": 1, "clicked (people)": 1,
        "unsubscribed": 0}
    assert re.search(r"seasonal-sale │ 0 │ 1\s+│ 1\s+│ 0", sale)  # her click, on link 0
    picture = ET.parse(tmp_path / "var" / "demo" / "campaign-spring-sale.svg").getroot()
    assert picture.tag == "{http://www.w3.org/2000/svg}svg"

    # In Salesforce: a Task on the person's timeline for every email sent to the org's
    # people, the Outbound Messages acknowledged by our endpoint, the converted Lead's
    # Tasks on its Contact, the unsubscribe written back, the org's own opt-out honoured.
    org = re.search(r"(\d+) email Tasks for (\d+) emails sent to the org's people; "
                    r"(\d+) Outbound Messages acknowledged", output)
    assert org, f"no Salesforce summary in:\n{output}"
    tasks, sent, acknowledged = map(int, org.groups())
    assert tasks == sent >= 4 and acknowledged >= 3
    hedy = output.split("Hedy Lamarr", 1)[1].split("Margaret Hamilton", 1)[0]
    assert "Contact" in hedy and "converted from Lead" in hedy
    assert hedy.count("│ Email       │") == 3  # her welcome series, before and after
    assert re.search(r"Margaret Hamilton .*HasOptedOutOfEmail true", output)
    assert "Unsubscribed from email (Drip)" in output
    radia = output.split("Radia Perlman", 1)[1]
    assert re.match(r"[^\n]*HasOptedOutOfEmail true", radia) and "(no Tasks)" in radia
    assert not [pid for pid in seen if alive(pid)], "the demo left processes behind"
