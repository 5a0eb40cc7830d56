"""`connector hubspot-app build` and the committed `hubspot-app/` project: valid JSON with
the keys platform 2025.2 expects, subscriptions generated from the workspace's properties,
URLs filled from the public URL, clear errors; and the app card's own npm test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connector.cli.main import main
from connector.hubspot_app import PROJECT_DIR, optional_scopes, required_scopes
from connector.settings import Settings
from connector.workspaces import build_workspace, properties_used, read_folder
from tests.support.paths import ROOT

CARDS = PROJECT_DIR / "src" / "app" / "cards"
LIFECYCLE = {"contact.creation", "contact.deletion", "contact.merge", "contact.restore"}
ALWAYS = {"email", "hs_email_optout"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"APP_ENV": "development", "VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "FLOWS_DIR": str(ROOT / "flows"), "TEMPLATES_DIR": str(ROOT / "templates"),
            "SEGMENTS_DIR": str(ROOT / "segments"),
            "PUBLIC_BASE_URL": "https://from-settings.example.com"}


def _build(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["hubspot-app", "build", *args], env=env)


def _json_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if "node_modules" not in p.parts)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _check_project(root: Path) -> None:
    """Every JSON file parses, and each config has the keys its component needs."""
    files = _json_files(root)
    assert files
    for path in files:
        _load(path)  # raises on invalid JSON
    project = _load(root / "hsproject.json")
    assert project["platformVersion"] == "2025.2" and project["srcDir"] == "src"
    assert project["name"]
    for path in (p for p in files if p.name.endswith("-hsmeta.json")):
        meta = _load(path)
        assert {"uid", "type", "config"} <= meta.keys(), path
        config = meta["config"]
        if meta["type"] == "app":
            assert {"name", "description", "distribution", "auth", "permittedUrls"} <= config.keys()
            assert config["distribution"] == "marketplace" and config["auth"]["type"] == "oauth"
            assert {"redirectUrls", "requiredScopes", "optionalScopes"} <= config["auth"].keys()
        elif meta["type"] == "webhooks":
            assert {"targetUrl", "maxConcurrentRequests"} <= config["settings"].keys()
            assert "subscriptions" in config
        elif meta["type"] == "card":
            assert {"name", "location", "entrypoint", "objectTypes"} <= config.keys()
            # entrypoint is relative to srcDir: /app/cards/ActivityCard.jsx
            assert (root / "src" / config["entrypoint"].lstrip("/")).is_file(), path
            assert config["objectTypes"] == ["contacts"]
        else:
            pytest.fail(f"{path}: unexpected component type {meta['type']!r}")


def _subscriptions(out: Path) -> dict[str, list[dict[str, Any]]]:
    webhooks = _load(out / "src/app/webhooks/webhooks-hsmeta.json")
    subscriptions: dict[str, list[dict[str, Any]]] = webhooks["config"]["subscriptions"]
    return subscriptions


def _subscribed_properties(out: Path) -> list[str]:
    return [s["propertyName"] for s in _subscriptions(out)["legacyCrmObjects"]
            if s["subscriptionType"] == "contact.propertyChange"]


def test_the_committed_project_and_templates_are_valid_json_with_their_keys() -> None:
    _check_project(PROJECT_DIR)
    templates = {p.name for p in (PROJECT_DIR / "templates").glob("*.json")}
    assert templates == {"app-hsmeta.json", "webhooks-hsmeta.json"}
    # The generated files are not committed: only their templates are.
    assert not (PROJECT_DIR / "src/app/app-hsmeta.json").exists()
    assert not (PROJECT_DIR / "src/app/webhooks").exists()
    package = _load(CARDS / "package.json")
    assert "@hubspot/ui-extensions" in package["dependencies"] and package["scripts"]["test"]
    assert _load(CARDS / "package-lock.json")["lockfileVersion"] >= 2


def test_build_for_the_default_workspace(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "app"
    result = _build(env, "--out", str(out), "--public-url", "https://drip.example.com/base/")
    assert result.exit_code == 0, result.output
    _check_project(out)
    expected = sorted(properties_used(build_workspace(read_folder(ROOT))) | ALWAYS)
    assert {"firstname", "lifecyclestage", "customer_since"} <= set(expected)
    assert _subscribed_properties(out) == expected
    subscriptions = _subscriptions(out)
    kinds = {s["subscriptionType"] for s in subscriptions["legacyCrmObjects"]}
    assert kinds == LIFECYCLE | {"contact.propertyChange"}
    hub_events = [s["subscriptionType"] for s in subscriptions["hubEvents"]]
    assert hub_events == ["contact.privacyDeletion"]
    assert all(s["active"] is True for group in subscriptions.values() for s in group)

    app = _load(out / "src/app/app-hsmeta.json")["config"]
    assert app["auth"]["redirectUrls"] == ["https://drip.example.com/base/oauth/hubspot/callback"]
    assert app["auth"]["requiredScopes"] == required_scopes()
    assert app["auth"]["optionalScopes"] == optional_scopes()
    assert app["permittedUrls"]["fetch"] == ["https://drip.example.com/base"]
    webhooks = _load(out / "src/app/webhooks/webhooks-hsmeta.json")["config"]
    assert webhooks["settings"]["targetUrl"] == "https://drip.example.com/base/webhooks/hubspot"
    card_url = (out / "src/app/cards/connector.js").read_text()
    assert '"https://drip.example.com/base"' in card_url
    # What is uploaded: no installed packages, tests or generator templates.
    assert not (out / "templates").exists()
    assert not any(out.rglob("node_modules")) and not any(out.rglob("*.test.*"))
    assert "property changes subscribed: " + ", ".join(expected) in result.output


def test_build_for_a_custom_workspace_with_the_url_from_the_settings(
    env: dict[str, str], tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "flows").mkdir(parents=True)
    (workspace / "templates" / "hi").mkdir(parents=True)
    (workspace / "flows" / "plan.yaml").write_text(
        "name: Plan\ntrigger: {type: property.changed, property: plan}\n"
        "steps:\n  - {id: hi, send: hi}\n"
    )
    (workspace / "templates" / "hi" / "subject.txt").write_text("Hi {{ contact.nickname }}")
    (workspace / "templates" / "hi" / "body.mjml").write_text(
        "<mjml><mj-body><mj-text>{{ contact['email'] }}</mj-text></mj-body></mjml>"
    )
    out = tmp_path / "app"
    result = _build(env, "--workspace", str(workspace), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert _subscribed_properties(out) == ["email", "hs_email_optout", "nickname", "plan"]
    webhooks = _load(out / "src/app/webhooks/webhooks-hsmeta.json")["config"]
    assert webhooks["settings"]["targetUrl"] == "https://from-settings.example.com/webhooks/hubspot"

    # Building again replaces the previous build (a stale file does not survive).
    (out / "stale.txt").write_text("old")
    again = _build(env, "--workspace", str(workspace), "--out", str(out))
    assert again.exit_code == 0, again.output
    assert not (out / "stale.txt").exists()


def test_errors_are_clear_and_nothing_is_written(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "app"
    missing = _build(env, "--workspace", str(tmp_path / "nope"), "--out", str(out))
    assert missing.exit_code == 1
    assert "not a folder" in missing.output and "nothing built" in missing.output

    broken = tmp_path / "broken"
    (broken / "flows").mkdir(parents=True)
    (broken / "flows" / "bad.yaml").write_text("name: Bad\ntrigger: {type: nope}\nsteps: []\n")
    schema = _build(env, "--workspace", str(broken), "--out", str(out))
    assert schema.exit_code == 1 and "flows/bad.yaml:2:" in schema.output

    for url in ("ftp://drip.example.com", "drip.example.com", "https://", "https://x.io/?a=1"):
        bad_url = _build(env, "--out", str(out), "--public-url", url)
        assert bad_url.exit_code == 1, url
        assert f"public URL {url!r}" in bad_url.output
    assert not out.exists()

    # A folder that is not a previous build is never emptied.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    refused = _build(env, "--out", str(precious), "--public-url", "https://drip.example.com")
    assert refused.exit_code == 1 and "refusing" in refused.output
    assert (precious / "notes.txt").read_text() == "mine"


def test_the_scopes_are_the_installs_defaults_and_the_readme_explains_them() -> None:
    fields = Settings.model_fields
    assert str(fields["hubspot_scopes"].default).split() == required_scopes()
    assert str(fields["hubspot_optional_scopes"].default).split() == optional_scopes()
    readme = (PROJECT_DIR / "README.md").read_text()
    for name in [*required_scopes(), *optional_scopes(), *LIFECYCLE, "contact.privacyDeletion"]:
        assert f"`{name}`" in readme, name


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_the_app_cards_own_tests_pass(tmp_path: Path) -> None:
    # A copy, so the repo's folder gets no node_modules from a test run.
    cards = tmp_path / "cards"
    shutil.copytree(CARDS, cards, ignore=shutil.ignore_patterns("node_modules"))
    for command in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "test"]):
        done = subprocess.run(command, cwd=cards, capture_output=True, text=True, timeout=600,
                              check=False)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
