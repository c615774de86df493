"""How a halt (seen by the process's halt watcher) ends a running tool's processes, and the run."""

from __future__ import annotations

from collections.abc import Callable

from agent_core.run.halt_watcher import Armed
from agent_core.run.outcome import stop


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
