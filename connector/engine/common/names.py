"""The one event-name pattern: what `POST /v1/events` accepts is what flows, segments and
conditions may name (one pattern in two places let `flows validate` pass a flow whose
event the API refused, so it never fired)."""

from __future__ import annotations

import re

# The loader's alphabet, which docs/flows.md has always stated, won over the API's narrower
# lower-case-dotted one: every shipped or deployed flow stays valid, and customers' names
# come from their own systems in many styles (HubSpot `pe123_order_completed`, Salesforce
# `Order_Completed__e`, namespaced `Shop:Order-Done`, dotted `order.completed`). Names
# are case-sensitive. 100 characters is what `inbox_events.kind` holds (the loader's
# former 200 could never have reached a flow). Spaces ("Order Completed") stay refused:
# they are usually a display label, not a name.
EVENT_NAME_MAX = 100
EVENT_NAME_PATTERN = rf"^[A-Za-z0-9_.:-]{{1,{EVENT_NAME_MAX}}}$"
EVENT_NAME = re.compile(EVENT_NAME_PATTERN)
EVENT_NAME_RULE = f"letters, digits, '.', '_', ':' and '-'; at most {EVENT_NAME_MAX} characters"
