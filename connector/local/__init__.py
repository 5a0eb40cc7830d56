"""The local runner: `connector serve`'s supervisor, the embedded Redis server, the web
server child and the in-process burst worker used by the demo, simulations and tests."""
