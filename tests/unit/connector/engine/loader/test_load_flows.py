"""Loading a flows directory, and the flows we ship."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from connector.engine.flows import ContactCreated, EventTrigger, SendStep, WaitStep
from connector.engine.loader import FlowErrors, load_flows

ROOT = Path(__file__).resolve().parents[5]
FLOW = "name: {name}\ntrigger: {{type: contact.created}}\nsteps: [{{send: welcome}}]\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def errors_of(directory: Path) -> list[str]:
    with pytest.raises(FlowErrors) as caught:
        load_flows(directory)
    return [str(error) for error in caught.value.errors]


def test_loads_yaml_and_yml_sorted_by_key(tmp_path: Path) -> None:
    write(tmp_path, "b.yml", FLOW.format(name="B"))
    write(tmp_path, "a.yaml", FLOW.format(name="A"))
    write(tmp_path, "c.yaml", "id: 0-first\n" + FLOW.format(name="C"))
    write(tmp_path, "notes.txt", "not a flow")
    write(tmp_path, ".#a.yaml", "editor lock file")
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested", "d.yaml", FLOW.format(name="D"))

    flows = load_flows(tmp_path)

    assert list(flows) == ["0-first", "a", "b"]
    assert flows["a"].source == str(tmp_path / "a.yaml")
    assert flows["b"].name == "B"


def test_empty_directory_has_no_flows(tmp_path: Path) -> None:
    assert load_flows(tmp_path) == {}


def test_missing_directory(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "nope") == [f"{tmp_path / 'nope'}: flows directory not found"]


def test_duplicate_flow_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "welcome.yaml", FLOW.format(name="One"))
    write(tmp_path, "welcome-v2.yaml", "# copy\nid: welcome\n" + FLOW.format(name="Two"))
    write(tmp_path, "zz-welcome.yml", "id: welcome\n" + FLOW.format(name="Three"))

    # Files load in name order ("welcome-v2" sorts before "welcome."), the first one wins;
    # a flow keyed by its file name has no `id:` line to point at.
    assert errors_of(tmp_path) == [
        f"{tmp_path / 'welcome.yaml'}: duplicate flow id 'welcome' "
        f"(also in {tmp_path / 'welcome-v2.yaml'})",
        f"{tmp_path / 'zz-welcome.yml'}:1: duplicate flow id 'welcome' "
        f"(also in {tmp_path / 'welcome-v2.yaml'})",
    ]


def test_duplicate_points_at_the_id_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", FLOW.format(name="A"))
    write(tmp_path, "b.yaml", "# the old one\nid: a\n" + FLOW.format(name="B"))
    assert errors_of(tmp_path) == [
        f"{tmp_path / 'b.yaml'}:2: duplicate flow id 'a' (also in {tmp_path / 'a.yaml'})"
    ]


def test_collects_every_files_errors(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", FLOW.format(name="Good"))
    write(tmp_path, "one.yaml", "name: x\ntrigger: {type: contact.created}\nsteps: []\n")
    write(tmp_path, "two.yaml", "name: y\ntrigger: {type: nope}\nsteps:\n  - wait: 0d\n")

    assert errors_of(tmp_path) == [
        f"{tmp_path / 'one.yaml'}:3: steps: a flow needs at least one step",
        f"{tmp_path / 'two.yaml'}:2: trigger: unsupported trigger type 'nope' "
        "(expected one of: contact.created, property.changed, segment.entered, "
        "segment.left, event, date, inactivity, engagement)",
        f"{tmp_path / 'two.yaml'}:4: step 1: wait: duration '0d' is zero; "
        "it must be longer than zero",
    ]


def test_oversized_file_is_not_read(tmp_path: Path) -> None:
    path = write(tmp_path, "huge.yaml", FLOW.format(name="H") + "#" * (256 * 1024))
    size = path.stat().st_size
    assert errors_of(tmp_path) == [
        f"{path}: the file is too large ({size} bytes; the limit is 256 KiB)"
    ]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: x\ntrigger: {type: contact.created}\ndescription: caf\xe9\n")
    assert errors_of(tmp_path) == [f"{path}:3: the file is not UTF-8 text"]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + FLOW.format(name="Café").encode())
    assert load_flows(tmp_path)["bom"].name == "Café"


def test_shipped_flows_load_cleanly() -> None:
    flows = load_flows(ROOT / "flows")

    assert {"welcome", "post-purchase"} <= set(flows)
    welcome = flows["welcome"]
    assert welcome.trigger == ContactCreated()
    assert [(type(s), getattr(s, "template", None)) for s in welcome.steps] == [
        (SendStep, "welcome"),
        (WaitStep, None),
        (SendStep, "getting-started"),
        (WaitStep, None),
        (SendStep, "first-offer"),
    ]
    waits = [s.duration for s in welcome.steps if isinstance(s, WaitStep)]
    assert waits == [timedelta(days=2), timedelta(days=3)]

    purchase = flows["post-purchase"]
    assert purchase.trigger == EventTrigger(event="order.completed", where={}, dedup="order_id")
    sends = [s.template for s in purchase.steps if isinstance(s, SendStep)]
    assert sends == [
        "order-thanks", "order-survey", "order-shipped", "review-request", "referral-offer",
        "purchase-anniversary",
    ]
