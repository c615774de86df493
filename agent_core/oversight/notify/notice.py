"""What a message says, in onloop's words, before any medium shapes it."""

from __future__ import annotations

from dataclasses import dataclass

from agent_core.oversight.notify_settings import NotifyEvent

_END_EVENTS: dict[str, NotifyEvent] = {
    "succeeded": "run_finished",
    "unmet": "run_finished",
    "failed": "run_finished",
    "halted": "run_halted",
    "paused": "run_paused",
}


@dataclass(frozen=True)
class Notice:
    """One thing to tell people. `action`, `goal` and `reason` may hold a model's or a tool's
    words: every format makes them inert for its medium; `headline` is onloop's own."""

    event: NotifyEvent
    run_id: str
    goal: str
    headline: str
    action: str
    reason: str = ""
    risk: str | None = None
    role: str | None = None  # who is asked: the role a decision needs
    approval_id: int | None = None
    link: str = ""  # filled in by the sender, signed

    @property
    def item(self) -> str:
        if self.approval_id is not None:
            return f"approval-{self.approval_id}"
        return f"run-{self.run_id}"


def approval_notice(*, run_id: str, goal: str, approval_id: int, role: str) -> Notice:
    """An approval opened; the sender fills in its action, risk and reason from the store."""
    return Notice(
        event="approval_requested",
        run_id=run_id,
        goal=goal,
        headline=f"onloop run {run_id} waits for an {role}'s decision",
        action="",
        role=role,
        approval_id=approval_id,
    )


def end_notice(*, run_id: str, goal: str, status: str, reason: str | None) -> Notice | None:
    """A run's session ended: said when it finished, was halted, or paused by itself (drift, a
    budget); a pause a person asked for is theirs to know already."""
    event = _END_EVENTS.get(status)
    if event is None or (status == "paused" and (reason or "").startswith("paused by ")):
        return None
    return Notice(
        event=event,
        run_id=run_id,
        goal=goal,
        headline=f"onloop run {run_id} {status}",
        action=f"the run {status}",
        reason=reason or "",
    )
