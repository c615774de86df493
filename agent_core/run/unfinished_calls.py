"""Crash recovery: which calls of the last model turn never got a result, and which may have run.

Calls are paired with their events by order, not by id: a turn's calls are handled one after
another and each ends with its `tool_result`, so the events after the turn split into one stretch
per call. That holds for runs stored before onloop numbered calls itself, whose model ids may
repeat within a turn or across turns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_core.models.base import ToolCallRequest
from storage.record import ApprovalDecided, ApprovalRequested, ModelCall, ToolCall, parse_as
from storage.vocabulary import EventKind, Verdict


@dataclass(frozen=True)
class Unfinished:
    call: ToolCallRequest
    text: str  # what the model said with the turn
    recorded: bool  # its tool_call event was written
    may_have_run: bool  # allowed, or its approval was consumed: only a human may run it again
    approval: Any | None  # the latest approval asked for it, if any (none once a halt refused it)


def last_turn(events: Sequence[Any]) -> Any | None:
    return next((e for e in reversed(events) if e.kind == EventKind.MODEL_CALL), None)


def unfinished_calls(events: Sequence[Any], approvals: Mapping[int, Any]) -> list[Unfinished]:
    """The last turn's calls without a result; `approvals` maps request_seq to approval rows."""
    turn = last_turn(events)
    if turn is None:
        return []
    answer = parse_as(ModelCall, turn.payload)
    stretches: list[list[Any]] = [[]]
    for event in events:
        if event.seq <= turn.seq:
            continue
        if event.kind == EventKind.TOOL_RESULT:
            stretches.append([])
        else:
            stretches[-1].append(event)
    done = len(stretches) - 1
    out = []
    for index, raw in enumerate(answer.tool_calls[done:], start=done):
        stretch = stretches[-1] if index == done else []
        call = ToolCallRequest(str(raw["id"]), raw["name"], raw["arguments"])
        out.append(_unfinished(call, answer.text, stretch, approvals))
    return out


def _unfinished(
    call: ToolCallRequest, text: str, stretch: list[Any], approvals: Mapping[int, Any]
) -> Unfinished:
    started = [parse_as(ToolCall, e.payload) for e in stretch if e.kind == EventKind.TOOL_CALL]
    asked = [e for e in stretch if e.kind == EventKind.APPROVAL_REQUESTED and e.seq in approvals]
    rows = [
        (approvals[e.seq], parse_as(ApprovalRequested, e.payload).given("approval_id"))
        for e in asked
    ]
    may_have_run = any(c.verdict == Verdict.ALLOW for c in started) or any(
        # A consumed approval started its tool (consuming and tool_started are one transaction).
        row.consumed_at is not None or (not numbered and _run_by_an_old_worker(row.id, stretch))
        for row, numbered in rows
    )
    latest = rows[-1][0] if rows else None
    if asked and halted_after(asked[-1].seq, stretch):
        latest = None  # the halt refused the call: what was decided before it is not reused
    return Unfinished(call, text, bool(started), may_have_run, latest)


def halted_after(seq: int, events: Sequence[Any]) -> bool:
    """Whether a halt was recorded after event `seq`: a resume then asks a person afresh, so
    a decision given before the halt, at its instant or while nobody drove the run never carries
    out what the halt stopped (the one who resumes may not know it was ever approved), nor does
    what it allowed for the rest of the run (tool_step.replay)."""
    return any(
        event.seq > seq
        and (
            event.kind == EventKind.HALT_REQUESTED
            or (event.kind == EventKind.STATUS and (event.payload or {}).get("status") == "halted")
        )
        for event in events
    )


def _run_by_an_old_worker(approval_id: int, stretch: list[Any]) -> bool:
    """Whether a release from before approvals were consumed (schema 3 and earlier: its requests
    carry no approval_id) may have started the call this approval allowed. Its worker, on seeing
    the decision, wrote approval_decided (without the tool, which every later release writes)
    and ran the call at once; approved while no such worker drove the run (say just before or
    after an upgrade), the call never started and the approval carries over unused: it runs the
    call once, consumed like any other."""
    for event in stretch:
        if event.kind != EventKind.APPROVAL_DECIDED:
            continue
        decided = parse_as(ApprovalDecided, event.payload)
        if (
            decided.approval_id == approval_id
            and decided.decision == "approved"
            and not decided.given("tool")
        ):
            return True
    return False
