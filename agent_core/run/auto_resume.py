"""Automatic recovery: a run whose worker or database was lost resumes by itself when the step
in flight is safe to repeat (a model call; a tool the policy marks repeatable, by default the
low-risk ones); a tool call that may have run and is not repeatable goes to a person."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import storage
from agent_core.oversight.policy import Policy, repeatable
from agent_core.oversight.stored_policy import stored_policy
from agent_core.run.unfinished_calls import unfinished_calls
from agent_core.tools import builtin_tools
from storage.record import ToolCall, parse_event
from storage.runs import AUTO_RECOVERABLE
from storage.vocabulary import EventKind

log = logging.getLogger("onloop.recovery")
RECOVER_BATCH = 20  # runs looked at per worker poll
MAX_AUTOMATIC = 10  # a run that keeps losing its worker goes to a person after this many


def recover_lapsed(store: storage.Store, *, by: str) -> list[str]:
    """Queue again (or hand to a person) the runs interrupted by a lost worker or database;
    returns the ids queued again. Any number of workers may do this at once: the store lets
    exactly one of them act on each run."""
    recovered = []
    for run in storage.lapsed_runs(store, reasons=AUTO_RECOVERABLE, limit=RECOVER_BATCH):
        events = storage.events_after(store, run_id=run.id)
        found = storage.pending_approvals(store, run_id=run.id)
        found += storage.decisions(store, run_id=run.id)
        approvals = {a.request_seq: a for a in found}
        policy = stored_policy(run.policy)
        blocker, detail = assess(events, approvals, policy)
        reason = str(run.reason)
        if blocker is not None:
            log.info("run %s needs a person to resume it: %s", run.id, blocker)
            storage.hand_to_a_person(store, run_id=run.id, expect_reason=reason, reason=blocker)
        elif storage.recover_run(
            store, run_id=run.id, expect_reason=reason, detail={**detail, "by": by, "after": reason}
        ):
            log.info("run %s resumes by itself (%s)", run.id, detail["in_flight"])
            recovered.append(run.id)
    return recovered


def assess(
    events: Sequence[Any], approvals: dict[int, Any], policy: Policy
) -> tuple[str | None, dict[str, Any]]:
    """(why a person must resume it, or None; what was in flight) for an interrupted run."""
    risks: dict[str, str] = {name: tool.risk for name, tool in builtin_tools().items()}
    for event in events:  # the risk each call was recorded with (MCP tools: their annotations)
        call = parse_event(event.kind, event.payload)
        if isinstance(call, ToolCall) and call.tool and call.risk:
            risks[str(call.tool)] = str(call.risk)
    unfinished = unfinished_calls(events, approvals)
    ran = [u.call.name for u in unfinished if u.may_have_run]
    risky = [name for name in ran if not repeatable(policy, name, risks.get(name))]
    if sum(1 for e in events if e.kind == EventKind.RECOVERED) >= MAX_AUTOMATIC:
        return f"resumed automatically {MAX_AUTOMATIC} times already; resume it yourself", {}
    if risky:
        return (
            f"a call of {', '.join(sorted(set(risky)))} may have run when the run was lost; "
            "resume the run to decide whether it runs again",
            {},
        )
    return None, {"in_flight": _in_flight(events, ran), "repeats": ran}


def _in_flight(events: Sequence[Any], ran: list[str]) -> str:
    if ran:
        return f"tool call {', '.join(ran)} (safe to repeat)"
    last = next((e.kind for e in reversed(events) if e.kind != EventKind.STATUS), None)
    if last == EventKind.MODEL_REQUEST:
        return "a model call (safe to repeat)"
    return "nothing that may have run"
