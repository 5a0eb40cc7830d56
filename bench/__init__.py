"""Benchmarks for the DESIGN §7 performance budgets; each prints `ratio=...` last."""
