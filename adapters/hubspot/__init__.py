"""The HubSpot adapter: every HubSpot fact (paths, property names, batch sizes, error
codes) lives in this package, in layers: auth -> client -> per-object mappings."""
