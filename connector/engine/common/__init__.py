"""Small pure helpers shared by rules, flows and the loader: durations, frozen
(hashable, read-only) values, event property matching and local-time scheduling.
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
