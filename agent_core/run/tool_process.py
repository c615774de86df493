"""What a run's tools run under: the shell's sandbox as its policy sets it, the redactor, and the
halt watch that ends a running tool's processes when a person halts the run."""

from __future__ import annotations

import threading
from types import TracebackType

from agent_core.outcome import Stop, stop
from agent_core.oversight.redact import Redactor, redactor_for
from agent_core.oversight.web_gate import url_gate
from agent_core.policy import Policy
from agent_core.port import RunPort
from agent_core.tools.builtins import ShellOffer, shell_offer
from agent_core.tools.context import ToolContext
from agent_core.tools.sandbox import Limits

WATCH_POLL_S = 0.1  # how often a running tool's halt watch looks at the run's commands
MB = 1 << 20


def run_redactor(policy: Policy) -> Redactor:
    """The redactor for a run: the worker's secret environment plus the policy's secrets."""
    return redactor_for(policy.sandbox.secret_env, policy.sandbox.secret_patterns)


def run_shell_offer(policy: Policy) -> ShellOffer:
    settings = policy.sandbox
    return shell_offer(unconfined_shell=settings.unconfined_shell, network=settings.network)


def tool_context(policy: Policy, cancel: threading.Event) -> ToolContext:
    """The context one tool call runs with under `policy`."""
    settings = policy.sandbox
    return ToolContext(
        cancel=cancel,
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


class HaltWatch:
    """While a tool runs, a light thread asks the port for a halt (or the worker's stop) and sets
    `cancel`, which ends the tool's processes; afterwards `stop_if_stopped` ends the run."""

    def __init__(self, port: RunPort) -> None:
        self.port = port
        self.cancel = threading.Event()
        self.reason: Stop | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="halt-watch", daemon=True)

    def __enter__(self) -> HaltWatch:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(WATCH_POLL_S):
            try:
                if self.port.should_stop():
                    self.reason = stop("interrupted", "the worker stopped while a tool ran")
                elif self.port.halt_requested():
                    self.reason = stop("halted", "halted by a human while a tool ran")
            except Exception:  # a busy store: look again at the next poll
                continue
            if self.reason is not None:
                self.cancel.set()
                return

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    def stop_if_stopped(self) -> None:
        if self.reason is not None:
            raise self.reason
