"""Runs in every state, written as the release at a given schema version wrote them (plain SQL, that
version's columns, its writers' payload shapes). Each run asks the demo model "What is 2 + 3?" and
had, where it got that far, a delete_files call of Makefile (seeded in its workspace) that needed a
person's approval (today's policy still asks for it).

Before version 4 (CONSUMING) a release did not number its approval requests (no approval_id in
approval_requested), wrote no tool_started and consumed no approval: its worker wrote
approval_decided (without the tool) on seeing the decision and then ran the call at once. From
version 4 a release writes tool_started and consumes the approval in one transaction first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from agent_core.tools import args_hash
from storage.models import tool_fields
from tests.support.old_schemas import CONSUMING, columns

GOAL = "What is 2 + 3?"
AT = "2025-05-03 10:00:00"
LAPSED = "2025-05-03 10:00:30"  # the old worker's lease, long gone
OLD_WORKER = "old-worker"
CALL = {"paths": ["Makefile"]}
TOOL = "delete_files"
SUMMARY = "delete 1 file: Makefile"
STOPPED = "the worker stopped; resume the run to continue"
STATES = (
    "queued",
    "running_lapsed",
    "waiting_pending",
    "waiting_approved",
    "approved_started",
    "paused",
    "interrupted",
    "halted",
    "succeeded",
)


@dataclass(frozen=True)
class Written:
    run_id: str
    state: str
    events: int
    approval_id: int | None


def _status(status: str, reason: str | None = None) -> tuple[str, dict[str, Any]]:
    return "status", {"status": status, "reason": reason}


_STARTED = [
    _status("queued"),
    (
        "run_started",
        {"goal": GOAL, "model": "demo", "model_name": "demo", "autonomy": "supervised"},
    ),
    _status("running"),
    ("model_request", {"step": 1}),
]
_ASKED_FOR = (
    "model_call",
    {
        "step": 1,
        "text": "I'll tidy up first.",
        "tool_calls": [{"id": "call_1", "name": TOOL, "arguments": json.dumps(CALL)}],
    },
)
_TOOL_CALL = (
    "tool_call",
    {
        "tool_call_id": "call_1",
        "tool": TOOL,
        "arguments": CALL,
        "risk": "high",
        "verdict": "ask",
        "rule": None,
        "reason": "high risk asks when supervised",
        "args_hash": args_hash(CALL),
    },
)


def _asked(version: int, approval_id: int) -> list[tuple[str, dict[str, Any]]]:
    request = {
        "tool_call_id": "call_1",
        "tool": TOOL,
        "arguments": CALL,
        "risk": "high",
        "reason": "high risk asks when supervised",
        "rule": None,
        "summary": SUMMARY,
        "model_text": "I'll tidy up first.",
        "args_hash": args_hash(CALL),
        "expires_at": None,
    }
    if version >= CONSUMING:
        request["approval_id"] = approval_id
    waiting = _status("waiting", "waiting for approval of delete_files")
    return [*_STARTED, _ASKED_FOR, _TOOL_CALL, ("approval_requested", request), waiting]


def _decided_and_started(version: int, approval_id: int) -> list[tuple[str, dict[str, Any]]]:
    decided: dict[str, Any] = {
        "approval_id": approval_id,
        "tool_call_id": "call_1",
        "decision": "approved",
        "decided_by": "ann",
        "note": None,
        "args_hash": args_hash(CALL),
        "edited_arguments": None,
        "allow_scope": None,
        "waited_s": 1.5,
    }
    if version < CONSUMING:  # the old worker ran the call right after writing this
        return [("approval_decided", decided), _status("running")]
    started = {
        "tool_call_id": "call_1",
        "tool": TOOL,
        "approval_id": approval_id,
        "args_hash": args_hash(CALL),
    }
    decided["tool"] = TOOL
    return [("approval_decided", decided), _status("running"), ("tool_started", started)]


_PLAIN: dict[str, tuple[str, str | None, list[tuple[str, dict[str, Any]]]]] = {
    # state: (run status, reason, events)
    "queued": ("queued", None, [_status("queued")]),
    "running_lapsed": ("running", None, _STARTED),
    "paused": ("paused", "paused by ann", [*_STARTED[:3], _status("paused", "paused by ann")]),
    "interrupted": ("interrupted", STOPPED, [*_STARTED, _status("interrupted", STOPPED)]),
    "halted": (
        "halted",
        "halted by bob",
        [*_STARTED, ("halt_requested", {"by": "bob"}), _status("halted", "halted by bob")],
    ),
    "succeeded": (
        "succeeded",
        None,
        [
            *_STARTED,
            ("model_call", {"step": 1, "text": "2 + 3 is 5.", "tool_calls": []}),
            ("final_answer", {"text": "2 + 3 is 5."}),
            _status("succeeded"),
        ],
    ),
}


def write_run(conn: Connection, version: int, state: str, run_id: str, workspace: Path) -> Written:
    """One run in `state`, as the release at `version` left it."""
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "Makefile").write_text("all:\n\ttrue\n")
    approval_id = None
    if state in _PLAIN:
        status, reason, events = _PLAIN[state]
    else:
        status, reason = "waiting", "waiting for approval of delete_files"
        approval_id = -1  # the row goes in first (its id), after the run
    driven = state in ("running_lapsed", "waiting_pending", "waiting_approved", "approved_started")
    finished = AT if status in ("halted", "succeeded") else None
    run = {
        "id": run_id,
        "goal": GOAL,
        "status": status if state != "approved_started" else "running",
        "workspace": str(workspace),
        "worker_id": OLD_WORKER if driven else None,
        "lease": LAPSED if driven else None,
        "finished": finished,
        "reason": reason if state != "approved_started" else None,
    }
    conn.execute(
        text(
            "INSERT INTO runs (id, goal, model, model_name, autonomy, status, max_steps, "
            "max_seconds, workspace, created_at, started_at, finished_at, updated_at, worker_id, "
            "lease_expires_at, last_seq, steps, tool_calls, tokens_in, tokens_out, cost_usd, "
            "active_seconds, reason) VALUES (:id, :goal, 'demo', 'demo', 'supervised', :status, "
            "30, 600, :workspace, :at, :at, :finished, :at, :worker_id, :lease, 0, 0, 0, 0, 0, 0, "
            "0, :reason)"
        ),
        {**run, "at": AT},
    )
    if approval_id is not None:
        approval_id = _write_approval(conn, version, state, run_id)
        events = _asked(version, approval_id)
        if state == "approved_started":
            events = events + _decided_and_started(version, approval_id)
    _write_events(conn, version, run_id, events)
    return Written(run_id, state, len(events), approval_id)


def _write_approval(conn: Connection, version: int, state: str, run_id: str) -> int:
    row: dict[str, Any] = {
        "run_id": run_id,
        "request_seq": len(_STARTED) + 3,  # model_call, tool_call, approval_requested
        "tool_call_id": "call_1",
        "tool": TOOL,
        "arguments": json.dumps(CALL),
        "args_hash": args_hash(CALL),
        "risk": "high",
        "reason": "high risk asks when supervised",
        "model_text": "I'll tidy up first.",
        "summary": SUMMARY,
        "status": "pending",
        "requested_at": AT,
    }
    if state != "waiting_pending":
        decided = {"decided_at": LAPSED, "decided_by": "ann", "approved_hash": args_hash(CALL)}
        row.update(status="approved", **decided)
    if state == "approved_started" and version >= CONSUMING:
        row["consumed_at"] = LAPSED
    if "call_class" in columns(conn, "approvals"):
        row["call_class"] = "destructive"
    names = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    query = f"INSERT INTO approvals ({names}) VALUES ({values}) RETURNING id"
    return int(conn.execute(text(query), row).scalar_one())


def _write_events(
    conn: Connection, version: int, run_id: str, events: list[tuple[str, dict[str, Any]]]
) -> None:
    with_tools = version >= 2  # version 2 added the tool and verdict columns
    for seq, (kind, payload) in enumerate(events, start=1):
        row = {"run_id": run_id, "seq": seq, "kind": kind, "at": AT, "payload": json.dumps(payload)}
        extra = ""
        if with_tools:
            row["tool"], row["verdict"] = tool_fields(kind, payload)
            extra = ", tool, verdict"
        names = f"run_id, seq, kind, at, payload{extra}"
        values = ", ".join(f":{name}" for name in row)
        conn.execute(text(f"INSERT INTO events ({names}) VALUES ({values})"), row)
    conn.execute(
        text("UPDATE runs SET last_seq = :n WHERE id = :id"), {"n": len(events), "id": run_id}
    )
