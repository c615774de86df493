"""Run data on a terminal line."""

from __future__ import annotations

from agent_core.oversight import inert


def one_line(text: object) -> str:
    """Run data on one terminal line: every control, escape and newline shown, not obeyed."""
    return inert.visible(text, newlines=False, tabs=False)
