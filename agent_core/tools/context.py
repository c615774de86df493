"""What a tool call carries besides its arguments: how to stop it, what the policy grants its
processes, and how its output is redacted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agent_core.tools.disk_budget import DiskBudget
from agent_core.tools.sandbox import Limits

CONTEXT_PARAMETER = "tool_context"  # injected by run_tool, never part of the schema


def _no_redaction(text: str) -> str:
    return text


@dataclass(frozen=True)
class ToolContext:
    cancel: threading.Event = field(default_factory=threading.Event)  # set by a halt
    network: bool = False  # the policy grants this run's processes the network
    unconfined_shell: bool = False  # the operator opted in to a shell without the sandbox
    limits: Limits = field(default_factory=Limits)
    disk: DiskBudget | None = None  # the run's disk budget: a command over it is stopped
    redact: Callable[[str], str] = _no_redaction
    # fetch_url asks it about every URL it is about to request (each redirect hop): a refusal
    # text, or None; and whether a rule allows private addresses for that URL's host.
    url_gate: Callable[[str, bool], tuple[str | None, bool]] | None = None
