"""Oversight: what a tool call will really touch, and what keeps a run inside what a person allowed."""
