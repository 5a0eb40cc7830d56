"""Campaign sends (issue 10): start (the audience frozen in SQL), advance (one throttled
chunk per job through the send path), pause / resume / cancel, and where a send stands.

    start_campaign -> campaigns row `sending` (or `scheduled`) + campaign_recipients
    advance_campaign -> a chunk of waiting recipients -> Message rows -> deliver_messages
    prepare_test_emails -> deliver_test_emails: a test send, recorded nowhere
"""

from __future__ import annotations

from connector.services.campaigns.advance import AdvanceReport, advance_campaign
from connector.services.campaigns.control import cancel_campaign, pause_campaign, resume_campaign
from connector.services.campaigns.errors import CampaignError
from connector.services.campaigns.start import start_campaign, start_due_campaigns
from connector.services.campaigns.status import CampaignStatus, campaign_status, campaign_statuses
from connector.services.campaigns.sweep import wake_sending_campaigns
from connector.services.campaigns.test_send import (
    MAX_TEST_ADDRESSES,
    DeliveryFailed,
    PreparedTestSend,
    RefusedTestSend,
    RenderedFor,
    SentTestEmail,
    UnknownCampaign,
    deliver_test_emails,
    prepare_test_emails,
)

__all__ = [
    "MAX_TEST_ADDRESSES",
    "AdvanceReport",
    "CampaignError",
    "CampaignStatus",
    "DeliveryFailed",
    "PreparedTestSend",
    "RefusedTestSend",
    "RenderedFor",
    "SentTestEmail",
    "UnknownCampaign",
    "advance_campaign",
    "campaign_status",
    "campaign_statuses",
    "cancel_campaign",
    "deliver_test_emails",
    "pause_campaign",
    "prepare_test_emails",
    "resume_campaign",
    "start_campaign",
    "start_due_campaigns",
    "wake_sending_campaigns",
]
