"""POST /v1/workspace: hostile uploads are refused before anything is deployed; valid ones
go to `connector.workspaces.deploy_files`."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.functional.api.conftest import auth
from tests.support.paths import ROOT
from tests.unit.connector.api.test_archive import entry, tar_bytes, zip_bytes


def repo_workspace(prefix: str = "workspace/", broken_flow: str | None = None) -> bytes:
    """The repo's own flows, segments and templates as a tar.gz, in one top-level folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for folder in ("flows", "segments", "templates"):
            archive.add(ROOT / folder, arcname=f"{prefix}{folder}")
        if broken_flow is not None:
            data = broken_flow.encode()
            info = tarfile.TarInfo(f"{prefix}flows/broken.yaml")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload(
    client: FlaskClient,
    account: AccountView,
    data: bytes,
    content_type: str = "application/gzip",
    query: str = "",
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/workspace{query}",
        data=data,
        headers={**auth(account), "Content-Type": content_type},
    )


# ---- hostile uploads: refused at the edge ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (tar_bytes([(entry("../flows/evil.yaml"), b"x")]), 400, "path traversal"),
        (tar_bytes([(entry("/flows/evil.yaml"), b"x")]), 400, "absolute path"),
        (
            tar_bytes([(entry("flows/l", tarfile.SYMTYPE, linkname="/etc/passwd"), None)]),
            400,
            "symbolic link not allowed",
        ),
        (zip_bytes({"flows/../../x": b"x"}), 400, "path traversal"),
        (b"garbage", 400, "not a tar, tar.gz or zip archive"),
        (b"\x1f\x8b\x08\x00broken", 400, "corrupt archive"),
        (b"", 400, "empty body"),
        (tar_bytes([(entry("notes.txt"), b"x")]), 422, "no workspace in the archive"),
    ],
)
def test_hostile_archives_are_refused(
    client: FlaskClient, account: AccountView, data: bytes, status: int, message: str
) -> None:
    response = upload(client, account, data, content_type="application/octet-stream")
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_a_bomb_is_413(client: FlaskClient, account: AccountView) -> None:
    files = {f"templates/t{i}/body.mjml": b"\0" * (2 * 1024 * 1024) for i in range(11)}
    response = upload(client, account, zip_bytes(files), content_type="application/zip")
    assert response.status_code == 413
    assert "expands to more than" in response.get_json()["error"]


def test_a_body_over_the_limit_is_413(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    response = upload(client, account, b"\x1f\x8b" + b"\0" * rt.settings.max_event_bytes)
    assert response.status_code == 413


def test_other_content_types_are_415(client: FlaskClient, account: AccountView) -> None:
    response = upload(client, account, repo_workspace(), content_type="application/json")
    assert response.status_code == 415
    assert "application/gzip" in response.get_json()["error"]


def test_a_bad_dry_run_value_is_422(client: FlaskClient, account: AccountView) -> None:
    response = upload(client, account, repo_workspace(), query="?dry_run=maybe")
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "dry_run"


# ---- deploys (need connector.workspaces, the main engineer's side) ---------------------


def test_a_dry_run_reports_and_changes_nothing(client: FlaskClient, account: AccountView) -> None:
    response = upload(client, account, repo_workspace(), query="?dry_run=true")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["dry_run"] is True


def test_a_deploy_answers_the_report(client: FlaskClient, account: AccountView) -> None:
    response = upload(client, account, repo_workspace(prefix=""), content_type="application/x-tar")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["dry_run"] is False


def test_an_invalid_workspace_is_422_with_every_error(
    client: FlaskClient, account: AccountView
) -> None:
    response = upload(client, account, repo_workspace(broken_flow="name: Broken\nsteps: 3\n"))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "workspace is invalid"
    assert any(e.startswith("flows/broken.yaml:") for e in body["errors"])


def test_the_temporary_folder_is_removed(
    client: FlaskClient, account: AccountView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    upload(client, account, repo_workspace(), query="?dry_run=true")
    upload(client, account, tar_bytes([(entry("../evil"), b"x")]))
    assert list(tmp_path.iterdir()) == []
