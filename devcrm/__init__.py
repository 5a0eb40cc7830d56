"""Local emulators of the CRM APIs this project talks to (HubSpot, later Salesforce): for
the tests, the demo and users trying the connector without a real portal or org. They
answer with the vendors' status codes and shapes, enforce their limits, and send
webhooks the way the vendors do."""
