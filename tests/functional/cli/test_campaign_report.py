"""`connector campaigns report` through the real CLI: a campaign sent to the readers (the
jobs run in this process, as a worker would), a person's open through the real tracking
endpoint, then the funnel table, --json, --csv and --svg; and what it says when there is
nothing to report."""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from connector.app import create_app
from tests.functional.cli import test_campaigns_send as sends
from tests.functional.cli.test_campaigns_send import READERS, run, run_jobs, worker
from tests.integration.flows.test_machine_engagement import CHROME, tracked
from tests.support.mail import outbox

# The send tests' fixtures: an account whose live workspace has the newsletter, its readers.
send_env, account = sends.send_env, sends.account


def sent_and_opened(env: dict[str, str]) -> None:
    """The newsletter sent to every reader; reader0 opens it in a browser."""
    assert run(env, "campaigns", "send", "newsletter").exit_code == 0
    run_jobs(env)
    with worker(env) as rt:
        (email,) = [m for m in outbox(rt) if str(m["To"]) == "reader0@example.com"]
        opened = create_app(rt).test_client().get(tracked(email, "o")[0],
                                                  headers={"User-Agent": CHROME})
        assert opened.status_code == 200


def test_report_shows_the_funnel_and_writes_json_csv_and_svg(
    send_env: dict[str, str], account: int, tmp_path: Path
) -> None:
    sent_and_opened(send_env)

    shown = run(send_env, "campaigns", "report", "newsletter")
    assert shown.exit_code == 0, shown.output
    assert "Newsletter (newsletter): sent" in shown.output
    assert re.search(rf"opened \(people\)\s*│\s*1\s*│\s*{1 / READERS:.1%}", shown.output)
    assert "First 72 h, people per hour: 1 open(s), 0 click(s)" in shown.output

    data = json.loads(run(send_env, "campaigns", "report", "newsletter", "--json").output)
    assert {k: data["funnel"][k] for k in ("audience", "sent", "opened", "clicked")} == {
        "audience": READERS, "sent": READERS, "opened": 1, "clicked": 0}
    assert sum(data["hourly"]["opens"]) == 1

    svg, rows = tmp_path / "report.svg", tmp_path / "rows.csv"
    written = run(send_env, "campaigns", "report", "newsletter", "--account", "1",
                  "--svg", str(svg), "--csv", str(rows))
    assert written.exit_code == 0, written.output
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    with rows.open() as f:
        table = list(csv.DictReader(f))
    assert [r["email"] for r in table] == [f"reader{n}@example.com" for n in range(READERS)]
    assert table[0]["first_open"] and not table[1]["first_open"]
    assert {r["state"] for r in table} == {"sent"}

    streamed = run(send_env, "campaigns", "report", "newsletter", "--csv", "-")
    assert streamed.output.splitlines()[0].startswith("email,variant,state")
    assert len(streamed.output.splitlines()) == READERS + 1
    both = run(send_env, "campaigns", "report", "newsletter", "--json", "--csv", "-")
    assert both.exit_code == 2 and "would both write to stdout" in both.output


def test_report_says_why_there_is_nothing_to_report(send_env: dict[str, str],
                                                    account: int) -> None:
    draft = run(send_env, "campaigns", "report", "newsletter")
    assert draft.exit_code == 1
    assert "newsletter has not been started: nothing to report" in draft.output
    unknown = run(send_env, "campaigns", "report", "nope")
    assert unknown.exit_code == 1 and "has no campaign 'nope'" in unknown.output
    assert run(send_env, "campaigns", "report").exit_code == 2  # KEY is needed
