"""The HubSpot marketplace app as a developer-platform project: its scopes, and the build
of `hubspot-app/` into a copy ready for `hs project upload`."""

from connector.hubspot_app.project import (
    ALWAYS_SUBSCRIBED,
    PROJECT_DIR,
    AppBuildError,
    Built,
    PublicUrls,
    app_config,
    build_project,
    subscribed_properties,
    webhooks_config,
)
from connector.hubspot_app.scopes import (
    OPTIONAL_SCOPES,
    REQUIRED_SCOPES,
    optional_scopes,
    required_scopes,
)

__all__ = [
    "ALWAYS_SUBSCRIBED",
    "OPTIONAL_SCOPES",
    "PROJECT_DIR",
    "REQUIRED_SCOPES",
    "AppBuildError",
    "Built",
    "PublicUrls",
    "app_config",
    "build_project",
    "optional_scopes",
    "required_scopes",
    "subscribed_properties",
    "webhooks_config",
]
