"""A store as earlier releases left it: the version 1 schema (tests/store/schema_v1.sql), with events
whose payloads are spelled exactly as those releases' writers spelled them (raw dicts, written
with sqlite3, no code of this release involved).

PREVIOUS is one run in the shapes of the release before typed events (copied from its writers);
OLDER is one run in the shorter shapes of releases before that: payloads without the fields
added later (no approval_id, no goal_met, no outcome, no token counts, no risk).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from storage import schema

V1_SCHEMA = Path(__file__).with_name("schema_v1.sql")
AT = "2025-05-03 10:00:00.000000"
WRITE = '{"path": "s.txt", "content": "5"}'
EDIT = {
    "changes": ["content"],
    "verdict": "ask",
    "rule": None,
    "reason": "write_file is medium risk",
    "approve_role": "approver",
    "escalates": False,
    "original_verdict": "ask",
}
PREVIOUS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": "queued", "reason": None}),
    (
        "run_started",
        {
            "goal": "add 2 and 3",
            "model": "scripted",
            "model_name": "scripted-1",
            "autonomy": "supervised",
            "tools": ["calculator", "write_file"],
            "resumed": False,
            "shell": {"mode": "unconfined", "network": False, "note": "no sandbox here"},
            "policy_changed": "the policy file changed since this run began",
        },
    ),
    ("status", {"status": "running", "reason": None}),
    ("model_request", {"step": 1}),
    (
        "model_call",
        {
            "step": 1,
            "text": "adding",
            "tool_calls": [
                {"id": "call_1", "model_id": "m1", "name": "calculator", "arguments": '{"expression": "2+3"}'},
                {"id": "call_2", "model_id": "m2", "name": "write_file", "arguments": WRITE},
                {"id": "call_3", "model_id": "m3", "name": "nope", "arguments": "{oops"},
            ],
            "tokens_in": 10,
            "tokens_out": 5,
            "cost_usd": 0.0012,
            "latency_s": 0.1234,
            "model_name": "scripted-1",
            "finish_reason": "tool_calls",
        },
    ),
    (
        "tool_call",
        {
            "tool_call_id": "call_1",
            "tool": "calculator",
            "arguments": {"expression": "2+3"},
            "risk": "low",
            "verdict": "allow",
            "rule": None,
            "reason": "low risk is allowed when supervised",
            "args_hash": "h1",
        },
    ),
    ("tool_started", {"tool_call_id": "call_1", "tool": "calculator", "approval_id": None, "args_hash": "h1"}),
    (
        "tool_result",
        {
            "tool_call_id": "call_1",
            "tool": "calculator",
            "ok": True,
            "output": "5",
            "duration_s": 0.0012,
            "outcome": "ok",
            "arguments": {"expression": "2+3"},
        },
    ),
    (
        "tool_call",
        {
            "tool_call_id": "call_2",
            "tool": "write_file",
            "arguments": {"path": "s.txt", "content": "5"},
            "risk": "medium",
            "verdict": "ask",
            "rule": None,
            "reason": "medium risk asks when supervised",
            "args_hash": "h2",
        },
    ),
    (
        "approval_requested",
        {
            "tool_call_id": "call_2",
            "tool": "write_file",
            "arguments": {"path": "s.txt", "content": "5"},
            "risk": "medium",
            "reason": "medium risk asks when supervised",
            "rule": None,
            "summary": "write 1 characters to s.txt",
            "model_text": "adding",
            "args_hash": "h2",
            "approval_id": 1,
            "expires_at": None,
        },
    ),
    ("status", {"status": "waiting", "reason": "waiting for approval of write_file"}),
    (
        "approval_decided",
        {
            "approval_id": 1,
            "tool_call_id": "call_2",
            "tool": "write_file",
            "decision": "approved",
            "decided_by": "ann",
            "note": "six is better",
            "args_hash": "h3",
            "edited_arguments": {"path": "s.txt", "content": "6"},
            "allow_scope": None,
            "waited_s": 2.5,
            "edited": True,
            "edit": EDIT,
        },
    ),
    ("status", {"status": "running", "reason": None}),
    ("tool_started", {"tool_call_id": "call_2", "tool": "write_file", "approval_id": 1, "args_hash": "h3"}),
    (
        "tool_result",
        {
            "tool_call_id": "call_2",
            "tool": "write_file",
            "ok": True,
            "output": "wrote 1 characters to s.txt\n\n[a person edited the arguments]",
            "duration_s": 0.01,
            "outcome": "ok",
            "arguments": {"path": "s.txt", "content": "6"},
            "edited_by": "ann",
            "requested_arguments": {"path": "s.txt", "content": "5"},
        },
    ),
    (
        "tool_call",
        {
            "tool_call_id": "call_3",
            "tool": "nope",
            "arguments": "{oops",
            "risk": "unknown",
            "verdict": "invalid",
            "rule": None,
            "reason": "Error: unknown tool 'nope'",
        },
    ),
    (
        "tool_result",
        {
            "tool_call_id": "call_3",
            "tool": "nope",
            "ok": False,
            "output": "Error: unknown tool 'nope'",
            "duration_s": 0.0,
            "outcome": "invalid",
        },
    ),
    ("guidance", {"message": "be brief", "by": "ann"}),
    (
        "judge",
        {"score": 0.8, "reason": "on track", "threshold": 0.3, "tokens_in": 3, "tokens_out": 2, "cost_usd": 0.0001},
    ),
    ("drift", {"monitor": "repeat_same_call", "detail": "calculator 4 times", "action": "pause"}),
    ("error", {"message": "goal check: timed out", "where": "goal_check"}),
    ("goal_check", {"met": True, "reason": "the sum is there", "tokens_in": 4, "tokens_out": 1, "cost_usd": 0.0}),
    ("model_request", {"step": 2}),
    (
        "model_call",
        {
            "step": 2,
            "text": "It is 5.",
            "tool_calls": [],
            "tokens_in": 20,
            "tokens_out": 3,
            "cost_usd": 0.002,
            "latency_s": 0.05,
            "model_name": "scripted-1",
            "finish_reason": "stop",
        },
    ),
    (
        "final_answer",
        {"text": "It is 5.", "goal_met": True, "claimed_goal_met": True, "structured": False, "problems": []},
    ),
    ("status", {"status": "succeeded", "reason": None}),
]  # fmt: skip
OLDER: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": "queued", "reason": None}),
    ("run_started", {"goal": "an old goal"}),
    ("model_call", {"step": 1, "text": "hm", "tool_calls": [{"id": "x1", "name": "write_file", "arguments": "{}"}]}),
    ("tool_call", {"tool_call_id": "x1", "tool": "write_file", "verdict": "ask", "arguments": {}}),
    ("approval_requested", {"tool": "write_file", "arguments": {}, "summary": "write a file"}),
    ("halt_requested", {"by": "bob", "status": "waiting"}),
    ("approval_decided", {"approval_id": 3, "tool_call_id": "x1", "tool": "write_file", "decision": "cancelled", "decided_by": "bob"}),
    ("status", {"status": "halted", "reason": "halted by bob"}),
    ("status", {"status": "interrupted", "reason": "worker lost (lease expired)"}),
    ("recovered", {"in_flight": "a model call (safe to repeat)", "repeats": [], "by": "w2", "after": "worker lost (lease expired)"}),
    ("status", {"status": "queued", "reason": None, "resumed": True, "automatic": True}),
    ("tool_result", {"tool_call_id": "x1", "tool": "write_file", "ok": False, "output": "Rejected"}),
    ("model_call", {"step": 2, "text": "I give up", "tool_calls": [], "finish_reason": "length"}),
    ("final_answer", {"text": "gave up"}),
    ("status", {"status": "queued", "reason": None, "resumed": True, "by": "ann"}),
]  # fmt: skip
RUNS = {"prev00000001": PREVIOUS, "old000000001": OLDER}


def make_store(path: Path) -> None:
    """The version 1 schema, its migration record, and RUNS with their events as stored."""
    raw = sqlite3.connect(path)
    raw.executescript(V1_SCHEMA.read_text())
    raw.execute(
        "INSERT INTO schema_migrations VALUES (1, ?, '2025-01-01 00:00:00.000000')",
        (schema.MIGRATIONS[0].name,),
    )
    for run_id, events in RUNS.items():
        raw.execute(
            "INSERT INTO runs (id, goal, model, model_name, autonomy, status, max_steps, "
            "max_seconds, created_at, updated_at, last_seq, steps, tool_calls, tokens_in, "
            "tokens_out, cost_usd, active_seconds) VALUES "
            "(?, ?, 'scripted', 'scripted-1', 'supervised', 'succeeded', 30, 600, ?, ?, ?, "
            "2, 2, 30, 8, 0.0032, 1.5)",
            (run_id, f"goal of {run_id}", AT, AT, len(events)),
        )
        for seq, (kind, payload) in enumerate(events, start=1):
            raw.execute(
                "INSERT INTO events (run_id, seq, kind, at, payload) VALUES (?, ?, ?, ?, ?)",
                (run_id, seq, kind, AT, json.dumps(payload)),
            )
    raw.commit()
    raw.close()
