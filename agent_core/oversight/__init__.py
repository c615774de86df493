"""Oversight: what a tool call will really do, as the policy needs to see it."""
