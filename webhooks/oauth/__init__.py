"""The CRM installs (OAuth): `/oauth/<crm>/install` sends the user to the CRM's consent
screen, `/oauth/<crm>/callback` records what it granted as an account. One blueprint holds
each CRM's; what they share (the single-use state, the pages) is in `common.py`."""

from __future__ import annotations

from flask import Blueprint

from webhooks.oauth import hubspot, salesforce

bp = Blueprint("oauth", __name__)
bp.register_blueprint(hubspot.bp)
bp.register_blueprint(salesforce.bp)
