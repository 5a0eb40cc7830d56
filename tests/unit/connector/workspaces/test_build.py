"""Building and checking a workspace from its files: schema errors of every file, then
lints and template renders, each "path:line: message" relative to the workspace."""

from __future__ import annotations

import pytest

from connector.workspaces import WorkspaceError, build_workspace, check_workspace
from connector.workspaces.files import read_folder
from tests.support.paths import ROOT

FLOW = "name: Hi\ntrigger: {type: event, event: hi}\nsteps:\n  - {id: hi, send: hello}\n"
HELLO = {
    "templates/hello/subject.txt": "Hello {{ contact.firstname }}",
    "templates/hello/body.mjml": "<mjml><mj-body><mj-section><mj-column><mj-text>Hi"
    "</mj-text></mj-column></mj-section></mj-body></mjml>",
}


def test_the_repo_is_a_valid_workspace_with_no_warnings() -> None:
    checked = check_workspace(read_folder(ROOT))
    assert (checked.errors, checked.warnings) == ([], [])
    assert checked.workspace is not None and "welcome" in checked.workspace.flows
    assert "vip" in checked.workspace.segments and "welcome" in checked.workspace.templates.names()


def test_schema_errors_of_every_file_are_reported_together() -> None:
    files = {
        "flows/a.yaml": "name: A\ntrigger: {type: nope}\nsteps: []\n",
        "flows/b.yaml": "id: a\n" + FLOW,
        "flows/c.yaml": FLOW.replace("name: Hi\n", "name: Hi\nid: a\n"),
        "segments/s.yaml": "name: S\nrule: {in_segment: missing}\n",
        **HELLO,
    }
    with pytest.raises(WorkspaceError) as refused:
        build_workspace(files)
    errors = refused.value.errors
    assert any(e.startswith("flows/a.yaml:2: ") for e in errors), errors
    assert any(e.startswith("flows/c.yaml:2: duplicate flow id 'a'") for e in errors), errors
    assert any(e.startswith("segments/s.yaml:") and "missing" in e for e in errors), errors


def test_lints_are_errors_or_warnings_and_renders_are_tried() -> None:
    files = {
        "flows/hi.yaml": FLOW.replace("send: hello", "send: helo"),
        "flows/properties.txt": "email\n",
        "templates/mjml/subject.txt": "Hi",
        "templates/mjml/body.mjml": "<mjml><mj-body><mj-oops></mjml>",
        "templates/odd/subject.txt": "{{ contact.x.y() }}",
        "templates/odd/body.mjml": HELLO["templates/hello/body.mjml"],
        **HELLO,
    }
    checked = check_workspace(files)
    assert checked.workspace is None
    assert any(e.startswith("flows/hi.yaml:4: error:") and "helo" in e for e in checked.errors)
    assert any(e.startswith("templates/mjml/body.mjml: invalid MJML") for e in checked.errors)
    # Fine for a real contact maybe; a bare sample recipient cannot render it.
    assert any(w.startswith("templates/odd/subject.txt:1: ") for w in checked.warnings)
