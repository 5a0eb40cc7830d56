"""/account-info/v3/details: which portal a token belongs to (what private-app users ask)."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

bp = Blueprint("hubspot_account", __name__, url_prefix="/account-info/v3")


@bp.get("/details")
def details() -> Response:
    return jsonify({"portalId": g.hub_id, "accountType": "STANDARD", "timeZone": "US/Eastern",
                    "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                    "utcOffsetMilliseconds": -18_000_000, "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1"})
