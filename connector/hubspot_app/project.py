"""Building the HubSpot developer-platform project (platform 2025.2) ready to upload: the
hand-written parts of `hubspot-app/` copied, and the two files that depend on the
deployment generated: `src/app/app-hsmeta.json` (redirect and fetch URLs, scopes) and
`src/app/webhooks/webhooks-hsmeta.json` (target URL, one property-change subscription per
property the workspace reads). Nothing here talks to HubSpot.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.hubspot_app.scopes import optional_scopes, required_scopes
from connector.workspaces import Workspace, properties_used

PROJECT_DIR = Path(__file__).resolve().parents[2] / "hubspot-app"
TEMPLATES = "templates"  # inside the project folder; never copied to the build
APP_CONFIG = "src/app/app-hsmeta.json"
WEBHOOKS_CONFIG = "src/app/webhooks/webhooks-hsmeta.json"
CARD_URL_MODULE = "src/app/cards/connector.js"
PROJECT_FILE = "hsproject.json"

# Read by the connector for every contact whatever the flows say: the address, and the
# opt-out checked before every send.
ALWAYS_SUBSCRIBED = frozenset({"email", "hs_email_optout"})
# The contact's life cycle, as the webhook receiver parses it (legacy `contact.*` types).
CONTACT_EVENTS = ("contact.creation", "contact.deletion", "contact.merge", "contact.restore")
# HubSpot files privacy deletion under "hub events", not CRM objects.
HUB_EVENTS = ("contact.privacyDeletion",)
# HubSpot's ceiling: at most 10 concurrent webhook requests per installing account.
MAX_CONCURRENT_REQUESTS = 10

_NEVER_COPIED = frozenset({"node_modules", ".vite", "__pycache__", ".DS_Store"})


class AppBuildError(ValueError):
    """The project cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class PublicUrls:
    """The connector's public URLs HubSpot calls, from its base URL."""

    base: str

    @classmethod
    def parse(cls, url: str) -> PublicUrls:
        """An http(s) URL with a host and no query or fragment; the trailing / dropped."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AppBuildError(f"public URL {url!r}: expected http:// or https:// and a host")
        if parts.query or parts.fragment:
            raise AppBuildError(f"public URL {url!r}: no query or fragment, please")
        return cls(url.strip().rstrip("/"))

    @property
    def webhooks(self) -> str:
        return f"{self.base}/webhooks/hubspot"

    @property
    def oauth_callback(self) -> str:
        return f"{self.base}/oauth/hubspot/callback"


@dataclass(frozen=True)
class Built:
    """What `build_project` wrote."""

    out: Path
    properties: list[str]
    subscriptions: int


def subscribed_properties(workspace: Workspace) -> list[str]:
    """The contact properties whose changes HubSpot should send: what the workspace reads
    plus what the connector always needs, sorted."""
    return sorted(properties_used(workspace) | ALWAYS_SUBSCRIBED)


def app_config(template: Mapping[str, Any], urls: PublicUrls) -> dict[str, Any]:
    """`app-hsmeta.json`: the template with the OAuth redirect, the scopes and the URL the
    app card may fetch filled in."""
    app = _copy(template)
    config = _section(app, "config", APP_CONFIG)
    auth = _section(config, "auth", APP_CONFIG)
    auth["redirectUrls"] = [urls.oauth_callback]
    auth["requiredScopes"] = required_scopes()
    auth["optionalScopes"] = optional_scopes()
    _section(config, "permittedUrls", APP_CONFIG)["fetch"] = [urls.base]
    return app


def webhooks_config(
    template: Mapping[str, Any], urls: PublicUrls, properties: list[str]
) -> dict[str, Any]:
    """`webhooks-hsmeta.json`: the template with the target URL and every subscription."""
    webhooks = _copy(template)
    config = _section(webhooks, "config", WEBHOOKS_CONFIG)
    settings = _section(config, "settings", WEBHOOKS_CONFIG)
    settings["targetUrl"] = urls.webhooks
    settings.setdefault("maxConcurrentRequests", MAX_CONCURRENT_REQUESTS)
    config["subscriptions"] = {
        "legacyCrmObjects": [
            *({"subscriptionType": kind, "active": True} for kind in CONTACT_EVENTS),
            *(
                {"subscriptionType": "contact.propertyChange", "propertyName": name,
                 "active": True}
                for name in properties
            ),
        ],
        "hubEvents": [{"subscriptionType": kind, "active": True} for kind in HUB_EVENTS],
    }
    return webhooks


def build_project(
    out: Path, *, workspace: Workspace, public_url: str, source: Path = PROJECT_DIR
) -> Built:
    """Write the project into `out`, replacing a previous build there; AppBuildError for a
    bad URL, a missing project or an `out` that holds something else."""
    urls = PublicUrls.parse(public_url)
    source, out = Path(source).resolve(), Path(out).resolve()
    if not (source / PROJECT_FILE).is_file():
        raise AppBuildError(f"{source}: not a HubSpot project folder (no {PROJECT_FILE})")
    if out == source or out.is_relative_to(source) or source.is_relative_to(out):
        raise AppBuildError(f"--out {out}: must be outside the project folder {source}")
    app_template = _read_json(source / TEMPLATES / Path(APP_CONFIG).name)
    webhooks_template = _read_json(source / TEMPLATES / Path(WEBHOOKS_CONFIG).name)
    properties = subscribed_properties(workspace)
    app = app_config(app_template, urls)
    webhooks = webhooks_config(webhooks_template, urls, properties)
    _clear(out)
    shutil.copytree(source, out, ignore=_ignored(source))
    _write_json(out / APP_CONFIG, app)
    _write_json(out / WEBHOOKS_CONFIG, webhooks)
    (out / CARD_URL_MODULE).write_text(
        "// Written by `connector hubspot-app build`.\n"
        f"export const CONNECTOR_URL = {json.dumps(urls.base)};\n",
        encoding="utf-8",
    )
    count = sum(len(group) for group in webhooks["config"]["subscriptions"].values())
    return Built(out=out, properties=properties, subscriptions=count)


def _ignored(source: Path) -> Callable[[str, list[str]], set[str]]:
    """What is not uploaded: installed packages, tests, and the generators' templates."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in _NEVER_COPIED or ".test." in n}
        if Path(folder).resolve() == source and TEMPLATES in names:
            skipped.add(TEMPLATES)
        return skipped

    return ignore


def _clear(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise AppBuildError(f"--out {out}: exists and is not a folder")
    if any(out.iterdir()) and not (out / PROJECT_FILE).is_file():
        # Only a previous build (or an empty folder) is replaced: never someone's files.
        raise AppBuildError(f"--out {out}: not empty and not a previous build; refusing")
    shutil.rmtree(out)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AppBuildError(f"{path}: missing") from exc
    except json.JSONDecodeError as exc:
        raise AppBuildError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise AppBuildError(f"{path}: expected a JSON object")
    return data


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _copy(template: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(template))
    return copied


def _section(parent: dict[str, Any], key: str, label: str) -> dict[str, Any]:
    found = parent.get(key)
    if not isinstance(found, dict):
        raise AppBuildError(f"template for {label}: '{key}' must be an object")
    return found
