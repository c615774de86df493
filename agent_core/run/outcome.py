"""How a run's session ends, and what each turn of the loop hands back to it.

Steps never raise to end a run: a turn returns `RunAgain` or the run's `Outcome`, and the
checks on the way (tool step, approval gate, monitors, budgets) return an `Outcome` or None to
go on; the loop decides. The one exception that crosses modules is the store's own refusal
(storage.HaltRequested, storage.LeaseLost): any write may meet it, the port cancels the run's
token with it, and AgentLoop.run turns it into the outcome (see `ended`)."""

from __future__ import annotations

from dataclasses import dataclass

from agent_core.tools.cancel_token import CancelReason, CancelToken

LOST_REASON = "another worker holds the run now (this worker's lease lapsed)"


@dataclass(frozen=True)
class Outcome:
    status: str  # a storage.RunStatus a session ends in: any but queued, running, waiting
    reason: str | None = None
    result: str | None = None


@dataclass(frozen=True)
class RunAgain:
    """The turn is over and the run goes on: the loop asks the model again."""


RUN_AGAIN = RunAgain()
NextStep = RunAgain | Outcome  # what one turn of the loop returns


def ended(token: CancelToken, during: str = "", *, by: str | None = None) -> Outcome:
    """The outcome of a run whose token is cancelled, noticed `during` something (words such as
    "while a tool ran"); `by` names who halted it when known."""
    match token.reason:
        case CancelReason.HALTED:
            return Outcome(
                "halted", " ".join(filter(None, (f"halted by {by or 'a human'}", during)))
            )
        case CancelReason.STOPPED:
            if during:
                return Outcome("interrupted", f"the worker stopped {during}")
            return Outcome("interrupted", "the worker stopped; resume the run to continue")
        case CancelReason.LOST:
            return Outcome("interrupted", token.detail or LOST_REASON)
        case CancelReason.DEADLINE:  # the loop ends it by its time budget first; this is a fallback
            return Outcome("halted", "model call cancelled")
    raise RuntimeError("ended() asked about a run whose token was not cancelled")


def stopping(token: CancelToken) -> bool:
    """The token says the run ends now whatever it does (a halt, the worker stopping, the run
    lost); a DEADLINE is the time budget's to decide (see AgentLoop)."""
    return token.reason in (CancelReason.HALTED, CancelReason.STOPPED, CancelReason.LOST)
