"""What a run's tools run under: the shell's sandbox as its policy sets it, the redactor, and
how a halt (seen by the process's halt watcher) ends a running tool's processes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from agent_core.outcome import stop
from agent_core.oversight.redact import Redactor, redactor_for
from agent_core.oversight.web_gate import url_gate
from agent_core.policy import Policy
from agent_core.run.halt_watch import Armed
from agent_core.tools.builtins import ShellOffer, shell_offer
from agent_core.tools.context import ToolContext
from agent_core.tools.sandbox import Limits

MB = 1 << 20


def run_redactor(policy: Policy) -> Redactor:
    """The redactor for a run: the worker's secret environment plus the policy's secrets."""
    return redactor_for(policy.sandbox.secret_env, policy.sandbox.secret_patterns)


def run_shell_offer(policy: Policy) -> ShellOffer:
    settings = policy.sandbox
    return shell_offer(unconfined_shell=settings.unconfined_shell, network=settings.network)


def tool_context(
    policy: Policy, cancel: threading.Event, halt_check: Callable[[], bool] | None = None
) -> ToolContext:
    """The context one tool call runs with under `policy`."""
    settings = policy.sandbox
    return ToolContext(
        cancel=cancel,
        halt_check=halt_check,
        network=settings.network,
        unconfined_shell=settings.unconfined_shell,
        limits=Limits(
            cpu_seconds=settings.cpu_seconds,
            memory_bytes=settings.memory_mb * MB,
            file_bytes=settings.file_mb * MB,
            processes=settings.processes,
        ),
        redact=run_redactor(policy),
        url_gate=url_gate(policy),
    )


def store_halt_check(
    armed: Armed, stopping: Callable[[], bool], halted: Callable[[], bool]
) -> Callable[[], bool]:
    """A tool's strict question (ToolContext.halt_check): the worker stopping, or a halt in the
    store (`halted` reads it); either fires `armed`, so the run ends as the watcher would end it."""

    def check() -> bool:
        if armed.reason is None:
            if stopping():
                armed.fire("stopped")
            elif halted():
                armed.fire("halted")
        return armed.reason in ("halted", "stopped")

    return check


class ToolStopped:
    """Why a tool's work was cut short by the process's halt watcher (see halt_watch), if it was:
    `cancel` ends the tool's processes; afterwards `stop_if_stopped` ends the run."""

    def __init__(self, armed: Armed) -> None:
        self.armed = armed

    @property
    def stopped(self) -> bool:
        return self.armed.reason in ("halted", "stopped")

    def stop_if_stopped(self) -> None:
        if self.armed.reason == "halted":
            raise stop("halted", "halted by a human while a tool ran")
        if self.armed.reason == "stopped":
            raise stop("interrupted", "the worker stopped while a tool ran")
