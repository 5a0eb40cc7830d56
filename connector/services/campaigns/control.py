"""Pause, resume and cancel: state changes only. An advance reads the state before each
chunk, so a chunk already claimed finishes and nothing after it starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from connector.db import rowcount
from connector.models import CampaignRun
from connector.services.campaigns.errors import CampaignError

if TYPE_CHECKING:
    from connector.runtime import Runtime

# state -> the states it may be moved from
_FROM = {
    "paused": ("sending",),
    "sending": ("paused",),
    "cancelled": ("scheduled", "sending", "paused"),
}


def pause_campaign(rt: Runtime, account_id: int, key: str) -> None:
    """Stop after the chunk being sent; `resume_campaign` goes on from there."""
    _move(rt, account_id, key, "paused")


def resume_campaign(rt: Runtime, account_id: int, key: str) -> None:
    campaign_id = _move(rt, account_id, key, "sending")
    rt.work.advance_campaign(campaign_id)


def cancel_campaign(rt: Runtime, account_id: int, key: str) -> None:
    """For good: the recipients still waiting are never mailed."""
    _move(rt, account_id, key, "cancelled")


def _move(rt: Runtime, account_id: int, key: str, to: str) -> int:
    now = rt.clock.now()
    with rt.db.session() as session:
        row = session.execute(select(CampaignRun.id, CampaignRun.state).where(
            CampaignRun.account_id == account_id, CampaignRun.key == key)).one_or_none()
        if row is None:
            raise CampaignError(f"campaign {key} has not been started in account {account_id}")
        campaign_id, state = row
        allowed = _FROM[to]
        values: dict[str, object] = {"state": to}
        if to == "paused":
            values["paused_at"] = now
        elif to == "sending":
            values.update(paused_at=None, next_advance_at=None)
        else:
            values["finished_at"] = now
        moved = rowcount(session.execute(update(CampaignRun).where(
            CampaignRun.id == campaign_id, CampaignRun.state.in_(allowed)).values(values)))
        if not moved:
            raise CampaignError(f"campaign {key} is {state}: only a campaign "
                                f"{' or '.join(allowed)} can be {_VERB[to]}")
    return int(campaign_id)


_VERB = {"paused": "paused", "sending": "resumed", "cancelled": "cancelled"}
