"""A local emulator of the Salesforce API subset the connector uses: OAuth with PKCE,
SOQL query, sObject CRUD, composite sObject collections, updated/deleted windows, the daily
API limit, injected faults and SOAP Outbound Messages retried until acknowledged."""

from __future__ import annotations

from devcrm.salesforce.client_session import plain_http_session
from devcrm.salesforce.server import SalesforceEmulator
from devcrm.salesforce.state import Org

__all__ = ["Org", "SalesforceEmulator", "plain_http_session"]
