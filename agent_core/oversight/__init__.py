"""Oversight: what keeps a run inside what a person allowed (policy, monitors, redaction)."""
