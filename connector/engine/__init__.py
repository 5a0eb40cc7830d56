"""The pure flow engine: segments, rules, flow definitions and their YAML loader, trigger
matching and "what happens next" decisions.

No I/O beyond reading definition files, no clock: time is always passed in. Import from
the packages' faces (`connector.engine.flows`, `.rules`, `.run`, `.entry`, `.loader`,
`.common`) or the top-level modules (`facts`, `segments`, `yamlnodes`); this module
re-exports nothing.
"""
