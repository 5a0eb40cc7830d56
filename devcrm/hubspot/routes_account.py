"""/account-info/v3/details: which portal a token belongs to (what private-app users ask),
and its settings: the timezone (the install reads it), currency, hosting."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify

from devcrm.hubspot.context import emulator, portal

bp = Blueprint("hubspot_account", __name__, url_prefix="/account-info/v3")


@bp.get("/details")
def details() -> Response:
    account = portal()
    offset = datetime.fromtimestamp(emulator().clock(), ZoneInfo(account.time_zone)).utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign, minutes = "-" if seconds < 0 else "+", abs(seconds) // 60
    return jsonify({"portalId": account.hub_id, "accountType": "STANDARD",
                    "timeZone": account.time_zone, "companyCurrency": "USD",
                    "additionalCurrencies": [],
                    "utcOffset": f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
                    "utcOffsetMilliseconds": seconds * 1000, "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1"})
