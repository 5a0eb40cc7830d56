"""Flask blueprints that receive (events, tracking; CRM webhooks next): verify, persist,
enqueue, answer fast."""
