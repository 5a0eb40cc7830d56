"""Entering flows: which flows a contact's signal starts (triggers.py), when scheduled
triggers fire, and under which key and cooldown a contact may enter (reentry.py).
"""

from __future__ import annotations

from connector.engine.entry.reentry import entry_key, may_reenter
from connector.engine.entry.signals import Signal
from connector.engine.entry.triggers import (
    flows_triggered,
    is_scheduled,
    next_fire_time,
    trigger_condition_holds,
    trigger_matches,
)

__all__ = [
    "Signal",
    "entry_key",
    "flows_triggered",
    "is_scheduled",
    "may_reenter",
    "next_fire_time",
    "trigger_condition_holds",
    "trigger_matches",
]
