"""How a run's session ends, and the exception that carries it out of the loop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    status: str  # a storage.RunStatus a session ends in: any but queued, running, waiting
    reason: str | None = None
    result: str | None = None


class Stop(Exception):
    """Ends the loop with an outcome (halt, pause, budget, drift, lost worker)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def stop(status: str, reason: str) -> Stop:
    return Stop(Outcome(status, reason))
