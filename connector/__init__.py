"""CRM Drip Connector: email automation (drip flows and campaigns) inside HubSpot and
Salesforce. The map of the package is in docs/architecture.md."""
