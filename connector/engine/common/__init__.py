"""Small pure helpers shared by rules, flows and the loader: durations, frozen
(hashable, read-only) values, event property matching, local-time scheduling and the
event-name pattern.
"""

from __future__ import annotations

from connector.engine.common.durations import (
    EXAMPLES,
    PART_NAMES,
    DurationError,
    did_you_mean,
    duration_from_parts,
    format_duration,
    parse_duration,
)
from connector.engine.common.frozen import FrozenMap, canonical_json, thaw
from connector.engine.common.matching import (
    MISSING,
    event_reference,
    lookup,
    resolve_where,
    where_matches,
)
from connector.engine.common.names import (
    EVENT_NAME,
    EVENT_NAME_MAX,
    EVENT_NAME_PATTERN,
    EVENT_NAME_RULE,
)
from connector.engine.common.schedule import (
    DEFAULT_AT,
    anniversary,
    date_target,
    format_time,
    local_day,
    next_local_time,
    parse_date_value,
    parse_time,
    quiet_until,
    zone,
)

__all__ = [
    "DEFAULT_AT",
    "EVENT_NAME",
    "EVENT_NAME_MAX",
    "EVENT_NAME_PATTERN",
    "EVENT_NAME_RULE",
    "EXAMPLES",
    "MISSING",
    "PART_NAMES",
    "DurationError",
    "FrozenMap",
    "anniversary",
    "canonical_json",
    "date_target",
    "did_you_mean",
    "duration_from_parts",
    "event_reference",
    "format_duration",
    "format_time",
    "local_day",
    "lookup",
    "next_local_time",
    "parse_date_value",
    "parse_duration",
    "parse_time",
    "quiet_until",
    "resolve_where",
    "thaw",
    "where_matches",
    "zone",
]
