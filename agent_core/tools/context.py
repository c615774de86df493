"""What a tool call carries besides its arguments: how to stop it, what the policy grants its
processes, and how its output is redacted.

A tool of your own learns of a halt by declaring a `tool_context: ToolContext | None = None`
parameter and reading `tool_context.stopped` (or calling `raise_if_stopped()`, or sleeping with
`wait(seconds)`) between pieces of work; see docs/security/halts.md."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from agent_core.tools.disk_budget import DiskBudget
from agent_core.tools.errors import ToolCancelled
from agent_core.tools.sandbox import Limits

CONTEXT_PARAMETER = "tool_context"  # injected by run_tool, never part of the schema


def _no_redaction(text: str) -> str:
    return text


@dataclass(frozen=True)
class ToolContext:
    # The run's CancelToken (agent_core.tools.cancel_token) in a run: set within ~0.1 s of a
    # halt of the run or of its worker stopping (the halt watcher), or when the store refuses.
    cancel: threading.Event = field(default_factory=threading.Event)
    network: bool = False  # the policy grants this run's processes the network
    unconfined_shell: bool = False  # the operator opted in to a shell without the sandbox
    limits: Limits = field(default_factory=Limits)
    disk: DiskBudget | None = None  # the run's disk budget: a command over it is stopped
    redact: Callable[[str], str] = _no_redaction
    # fetch_url asks it about every URL it is about to request (each redirect hop): a refusal
    # text, or None; and whether a rule allows private addresses for that URL's host.
    url_gate: Callable[[str, bool], tuple[str | None, bool]] | None = None
    # Reads the store now (one indexed read), not the watcher's view: True when a halt of the
    # run is recorded or its worker stops (and then the token `cancel` is set). None outside a run.
    halt_check: Callable[[], bool] | None = None

    @property
    def stopped(self) -> bool:
        """True once a halt (or the worker's stop) reached this call: return, do nothing more.
        Cheap (no I/O): read it as often as you like."""
        return self.cancel.is_set()

    def raise_if_stopped(self) -> None:
        """Raise ToolCancelled when the call was stopped; onloop records it as halted."""
        if self.cancel.is_set():
            raise ToolCancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, woken at once by a halt; True when stopped."""
        return self.cancel.wait(seconds)

    def before_sending(self) -> None:
        """Right before an effect outside this process (a request sent): ToolCancelled when a halt
        is recorded, asking the store itself, so nothing leaves after the halt even if the
        watcher has not seen it yet."""
        self.raise_if_stopped()
        if self.halt_check is not None and self.halt_check():
            raise ToolCancelled()


_current: ContextVar[ToolContext | None] = ContextVar("onloop_tool_context", default=None)


@contextmanager
def calling(context: ToolContext) -> Iterator[None]:
    """While inside, current_context() is `context` (run_tool sets it around a tool's function)."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def current_context() -> ToolContext | None:
    """The context of the tool call running in this thread: for tools whose signature cannot take
    a `tool_context` parameter (MCP tools, whose arguments are the server's)."""
    return _current.get()
