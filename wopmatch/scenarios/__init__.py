"""Donor scenarios: sweeps of variations of one instance (docs/scenarios.md)."""
