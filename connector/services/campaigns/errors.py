"""The one error of campaign operations: what was asked cannot be done, and why."""

from __future__ import annotations


class CampaignError(Exception):
    """A campaign that cannot be started, paused, resumed or cancelled (unknown key, wrong
    state, a feature not built yet); the message says which and why."""
