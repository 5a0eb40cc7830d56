"""The one reader of the process environment (12-factor settings).

Every other module receives a `Settings` object; nothing else touches `os.environ`.
Development defaults are embedded (SQLite, an embedded Redis server, an outbox folder);
in production (`APP_ENV=production`) the secrets must be given and a missing one stops the
process at start-up with one line naming it.
"""

from __future__ import annotations

import difflib
import os
import secrets
from datetime import timedelta
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connector.engine.common import DurationError, parse_duration


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=True, extra="ignore", populate_by_name=True
    )

    app_env: Literal["development", "production", "test"] = Field("development", alias="APP_ENV")
    var_dir: Path = Field(Path("var"), alias="VAR_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    port: int = Field(5000, alias="PORT")
    public_base_url: str | None = Field(None, alias="PUBLIC_BASE_URL")
    secret_key: str | None = Field(None, alias="SECRET_KEY")
    encryption_keys: str | None = Field(None, alias="ENCRYPTION_KEYS")
    mail_url: str | None = Field(None, alias="MAIL_URL")
    mail_from: str = Field("Drip Connector <hello@localhost>", alias="MAIL_FROM")
    company_name: str = Field("Drip Connector Demo Co.", alias="COMPANY_NAME")
    # CAN-SPAM asks for a postal address in every marketing email's footer.
    company_address: str = Field("1 Example Street, Springfield", alias="COMPANY_ADDRESS")
    hubspot_client_id: str | None = Field(None, alias="HUBSPOT_CLIENT_ID")
    hubspot_client_secret: str | None = Field(None, alias="HUBSPOT_CLIENT_SECRET")
    hubspot_api_base: str = Field("https://api.hubapi.com", alias="HUBSPOT_API_BASE")
    # Where the install sends the user to consent (HubSpot's app host, or an emulator).
    hubspot_auth_url: str = Field("https://app.hubspot.com/oauth/authorize",
                                  alias="HUBSPOT_AUTH_URL")
    # Space-separated OAuth scopes asked at install (hubspot-app/ declares the same).
    hubspot_scopes: str = Field(
        "oauth crm.objects.contacts.read crm.objects.contacts.write "
        "crm.schemas.contacts.write communication_preferences.read_write",
        alias="HUBSPOT_SCOPES",
    )
    hubspot_optional_scopes: str = Field("", alias="HUBSPOT_OPTIONAL_SCOPES")
    # Requests per window per installed portal, shared by every worker ("110/10s": the
    # OAuth apps' limit); search has its own per-second limit.
    hubspot_rate_limit: str = Field("110/10s", alias="HUBSPOT_RATE_LIMIT")
    hubspot_search_rate: float = Field(5.0, alias="HUBSPOT_SEARCH_RATE", gt=0)
    # Seconds before a CRM call gives up (HubSpot's client has no timeout of its own).
    crm_request_timeout: float = Field(10.0, alias="CRM_REQUEST_TIMEOUT", gt=0)
    # How often every connected account is reconciled against its CRM (missed webhooks).
    crm_reconcile_every: float = Field(600.0, alias="CRM_RECONCILE_EVERY", gt=0)
    salesforce_client_id: str | None = Field(None, alias="SALESFORCE_CLIENT_ID")
    salesforce_client_secret: str | None = Field(None, alias="SALESFORCE_CLIENT_SECRET")
    # Where admins log in and tokens are granted: production, https://test.salesforce.com
    # for sandboxes, a My Domain, or an emulator on this machine (plain HTTP on loopback).
    salesforce_login_url: str = Field("https://login.salesforce.com", alias="SALESFORCE_LOGIN_URL")
    # Space-separated OAuth scopes asked at install.
    salesforce_scopes: str = Field("api refresh_token", alias="SALESFORCE_SCOPES")
    # The share of each org's daily API requests the connector may use: the org's other
    # integrations need the rest.
    salesforce_api_share: float = Field(0.5, alias="SALESFORCE_API_SHARE", gt=0, le=1,
                                        allow_inf_nan=False)
    flows_dir: Path = Field(Path("flows"), alias="FLOWS_DIR")
    templates_dir: Path = Field(Path("templates"), alias="TEMPLATES_DIR")
    segments_dir: Path = Field(Path("segments"), alias="SEGMENTS_DIR")
    # At most N marketing emails per contact per rolling window, across flows: "3/7d".
    frequency_cap: str | None = Field(None, alias="FREQUENCY_CAP")
    # The timezone of every account without one of its own (`accounts set --timezone`): a
    # campaign's send_at without an offset is read in it. An IANA name.
    timezone: str = Field("UTC", alias="TIMEZONE")
    scheduler_interval: float = Field(1.0, alias="SCHEDULER_INTERVAL", gt=0)
    # Campaign emails per window for the whole deployment, shared by every worker through
    # Redis ("50/s", "2000/h"); unset: only each campaign's own throttle. Flow emails are
    # not counted: they are the ones a person is waiting for.
    send_rate: str | None = Field(None, alias="SEND_RATE")
    max_event_bytes: int = Field(1024 * 1024, alias="MAX_EVENT_BYTES", gt=0)

    @field_validator("database_url")
    @classmethod
    def _heroku_postgres(cls, url: str | None) -> str | None:
        # Heroku hands out postgres:// URLs; SQLAlchemy 2 only knows postgresql://.
        if url and url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if url and url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    @field_validator("mail_url")
    @classmethod
    def _mail_url(cls, url: str | None) -> str | None:
        # Checked here like every other setting, so `ftp://x` stops the process at start-up
        # instead of leaving the first email `sending`. Parsing only: nothing is opened.
        if not url:
            return None
        from connector.email.transports import check_mail_url  # lazy: the email package

        check_mail_url(url)
        return url

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        # The From header of every email that names no sender of its own.
        value = value.strip()
        if any(ch in value for ch in "\r\n") or "@" not in parseaddr(value)[1]:
            raise ValueError(
                f"expected one address such as 'Acme <hello@acme.example>', got {value!r}"
            )
        return value

    @field_validator("salesforce_login_url")
    @classmethod
    def _salesforce_login_url(cls, url: str) -> str:
        # The consumer secret and every refresh token are posted here: never in the clear.
        from adapters.salesforce.auth import is_salesforce_origin  # lazy: the adapter

        if not is_salesforce_origin(url):
            raise ValueError("expected an https origin such as https://login.salesforce.com "
                             f"(plain http only on this machine), got {url!r}")
        return url.rstrip("/")

    @field_validator("hubspot_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)
        return value

    @field_validator("send_rate")
    @classmethod
    def _send_rate(cls, value: str | None) -> str | None:
        if not value:
            return None
        parse_send_rate(value)
        return value

    @property
    def campaign_send_rate(self) -> tuple[int, float] | None:
        """SEND_RATE as (emails, window in seconds), or None."""
        return parse_send_rate(self.send_rate) if self.send_rate else None

    @property
    def hubspot_rate(self) -> tuple[int, float]:
        """HUBSPOT_RATE_LIMIT as (requests, window in seconds)."""
        return parse_rate_limit(self.hubspot_rate_limit)

    @field_validator("frequency_cap")
    @classmethod
    def _frequency_cap(cls, value: str | None) -> str | None:
        if not value:
            return None
        parse_frequency_cap(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return parse_timezone(value).key

    @property
    def default_timezone(self) -> ZoneInfo:
        """TIMEZONE as a tzinfo."""
        return parse_timezone(self.timezone)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.var_dir / 'connector.sqlite3').resolve()}"

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def mail(self) -> str:
        return self.mail_url or f"outbox://{self.var_dir / 'outbox'}"

    @property
    def fernet_keys(self) -> list[str]:
        assert self.encryption_keys is not None, "call ensure_secrets() first"
        return [k.strip() for k in self.encryption_keys.split(",") if k.strip()]

    def ensure_secrets(self) -> Settings:
        """Fill SECRET_KEY and ENCRYPTION_KEYS: required in production, else kept in var/."""
        for name, attr, make in (
            ("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(48)),
            ("ENCRYPTION_KEYS", "encryption_keys", lambda: Fernet.generate_key().decode()),
        ):
            if getattr(self, attr):
                continue
            if self.is_production:
                raise SettingsError(f"{name} is required when APP_ENV=production")
            setattr(self, attr, _dev_secret(self.var_dir / f".{attr}", make))
        return self


def parse_rate_limit(value: str) -> tuple[int, float]:
    """"110/10s" -> (110, 10.0): requests per window."""
    count, _, window = value.partition("/")
    try:
        requests, seconds = int(count), parse_duration(window or "?").total_seconds()
    except (ValueError, DurationError):
        raise ValueError(f"expected requests per window such as '110/10s', got {value!r}"
                         ) from None
    if requests < 1 or seconds <= 0:
        raise ValueError(f"expected a positive rate such as '110/10s', got {value!r}")
    return requests, seconds


def parse_send_rate(value: str) -> tuple[int, float]:
    """"50/s" or "2000/1h" -> (emails, window seconds): a bare unit is one of it, as in a
    campaign's `throttle`."""
    count, slash, window = value.strip().partition("/")
    if slash and window.isalpha():
        window = f"1{window}"
    return parse_rate_limit(f"{count}/{window}" if slash else value)


def parse_frequency_cap(value: str) -> tuple[int, timedelta]:
    """"3/7d" -> (3, 7 days): at most N marketing emails per contact per rolling window."""
    count, _, window = value.partition("/")
    try:
        cap = (int(count), parse_duration(window))
    except (ValueError, DurationError):
        cap = (0, timedelta(0))
    if cap[0] < 1 or cap[1] <= timedelta(0):
        raise ValueError(f"expected N/duration with N >= 1, e.g. 3/7d, got {value!r}")
    return cap


# Names the zone database has that are no place: the machine's own zone (two workers on
# two machines would read one send_at two ways) and tzdata's placeholder.
_NOT_ZONES = frozenset({"localtime", "Factory"})


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA timezone called `name` ("Europe/Berlin", "US/Eastern"); ValueError naming
    the close ones when there is none of that name."""
    name = name.strip()
    if name in _zone_names():
        return ZoneInfo(name)
    close = _close_zones(name)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ValueError(f"expected an IANA timezone such as Europe/Berlin, got {name!r}{hint}")


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def _close_zones(name: str) -> list[str]:
    """The same name in another case, the zones of a city of that name, else the names
    that differ by a typo."""
    wanted = name.lower().replace(" ", "_")
    lowered = {zone.lower(): zone for zone in sorted(_zone_names())}
    if wanted in lowered:
        return [lowered[wanted]]
    cities = [zone for low, zone in lowered.items() if low.rsplit("/", 1)[-1] == wanted]
    return cities[:3] or [lowered[low] for low in
                          difflib.get_close_matches(wanted, list(lowered), n=3, cutoff=0.85)]


def _dev_secret(path: Path, make: object) -> str:
    """A development secret generated once and kept under var/ (never in production)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()  # type: ignore[operator]
    path.write_text(value)
    path.chmod(0o600)
    return str(value)


def child_environment(**overrides: str) -> dict[str, str]:
    """The environment for a child process of ours (`connector serve` spawns workers)."""
    return {**os.environ, **overrides}


def load_settings(**overrides: object) -> Settings:
    """Read the environment (overrides win) and fail with one line per bad variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("invalid settings: " + "; ".join(lines)) from exc
    return settings.ensure_secrets()
