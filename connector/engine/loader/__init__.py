"""Reading flow files: YAML -> flow definitions with errors that name the file and the
line (flow.py, one module per section), and the lints `connector flows validate` prints.
Campaign files likewise (campaigns.py, campaign_lint.py).
"""

from __future__ import annotations

from connector.engine.loader.campaign_lint import lint_campaign, lint_send_time
from connector.engine.loader.campaigns import load_campaign_texts, load_campaigns, parse_campaign
from connector.engine.loader.flow import (
    FlowError,
    FlowErrors,
    load_flow_texts,
    load_flows,
    parse_flow,
)
from connector.engine.loader.lint import Lint, flow_properties, flow_rules, lint_flow
from connector.engine.loader.steps import STEP_KINDS_BY_KEY, STEP_SYNTAX
from connector.engine.loader.triggers import TRIGGER_SYNTAX

__all__ = [
    "STEP_KINDS_BY_KEY",
    "STEP_SYNTAX",
    "TRIGGER_SYNTAX",
    "FlowError",
    "FlowErrors",
    "Lint",
    "flow_properties",
    "flow_rules",
    "lint_campaign",
    "lint_flow",
    "lint_send_time",
    "load_campaign_texts",
    "load_campaigns",
    "load_flow_texts",
    "load_flows",
    "parse_campaign",
    "parse_flow",
]
