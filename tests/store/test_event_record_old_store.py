"""A store written by earlier releases opens unchanged, and every reader reads its events through
the typed models as those releases showed them (the CLI lines below are what the release before
typed events printed for these very payloads)."""

from __future__ import annotations

from types import SimpleNamespace

import storage
from agent_core.run.conversation import CUT_OFF_REQUEST
from agent_core.run.unfinished_calls import unfinished_calls
from storage.record import (
    MODELS,
    ApprovalRequested,
    FinalAnswer,
    RunStarted,
    ToolCall,
    ToolResult,
    parse_as,
    parse_event,
)
from tests.store.event_readers import read_everywhere
from tests.store.previous_release import OLDER, PREVIOUS, RUNS, make_store

PREVIOUS_LINES = [
    None,
    "▶ started: scripted-1 · supervised · goal: add 2 and 3\n  ⚠ the policy file changed since this run began",
    None,
    None,
    "[step 1] adding  (10+5 tok)",
    '  → calculator({"expression": "2+3"}) [low risk]',
    None,
    "    ✓ 5",
    '  → write_file({"path": "s.txt", "content": "5"}) [medium risk] — needs approval',
    "  ? approval needed: write 1 characters to s.txt — medium risk asks when supervised",
    None,
    '  ✋ approved with edited arguments {"path": "s.txt", "content": "6"} (the policy for the edit: ask) by ann: six is better',
    None,
    None,
    '    ✓ (ran as edited by ann: {"path": "s.txt", "content": "6"}) wrote 1 characters to s.txt\n      \n      [a person edited the arguments]',
    "  → nope({oops) [unknown risk] — invalid, not run",
    "    ✗ Error: unknown tool 'nope'",
    "  ✎ guidance from ann: be brief",
    "  ⚖ progress judge: 0.80 (pauses below 0.3): on track",
    "  ⚠ drift (repeat_same_call): calculator 4 times → pause",
    "  ! error (goal_check): goal check: timed out",
    "  ⚖ goal check: met: the sum is there",
    None,
    "[step 2] It is 5.  (20+3 tok)",
    "■ final answer (goal met):\n      It is 5.",
    "● succeeded",
]  # fmt: skip
OLDER_LINES = [
    None,
    "▶ started:  ·  · goal: an old goal",
    "[step 1] hm  (0+0 tok)",
    "  → write_file({}) [ risk] — needs approval",
    "  ? approval needed: write a file — ",
    "■ halt requested by bob",
    "  ✋ cancelled by bob",
    "● halted: halted by bob",
    "● interrupted: worker lost (lease expired)",
    "↻ resumed automatically after worker lost (lease expired): in flight was a model call (safe to repeat)",
    None,
    "    ✗ Rejected",
    "[step 2] I give up  (0+0 tok) — cut off by the output cap",
    "■ final answer (goal met):\n      gave up",
    None,
]  # fmt: skip


def _old_store(tmp_path) -> storage.Store:
    make_store(tmp_path / "old.db")
    return storage.open_store(f"sqlite:///{tmp_path / 'old.db'}")


def test_the_store_opens_with_its_events_as_they_were_written(tmp_path):
    store = _old_store(tmp_path)
    for run_id, written in RUNS.items():
        stored = storage.events_after(store, run_id=run_id)
        assert [(e.kind, e.payload) for e in stored] == written
        for e in stored:
            parsed = parse_event(e.kind, e.payload)
            assert type(parsed) is MODELS[e.kind]
            assert parsed.payload() == e.payload  # nothing added, dropped or retyped
            assert e.exported()["payload"] == e.payload


def test_every_reader_reads_the_old_events_as_the_old_release_did(tmp_path, monkeypatch):
    store = _old_store(tmp_path)
    previous = read_everywhere(monkeypatch, store, "prev00000001")
    assert previous["cli"] == PREVIOUS_LINES
    assert previous["usage"] == [(1, 15, 0.0012), (2, 38, 0.0012 + 0.002)]
    assert [s.label for s in previous["timeline"]] == [
        "step 1",
        "calculator",
        "write_file: approved",
        "write_file",
        "nope",
        "step 2",
    ]
    assert [(m["role"], m.get("tool_call_id")) for m in previous["messages"][2:]] == [
        ("assistant", None),
        ("tool", "call_1"),
        ("tool", "call_2"),
        ("tool", "call_3"),
        ("user", None),  # the guidance
        ("assistant", None),
    ]
    assert previous["messages"][2]["tool_calls"][2]["function"]["arguments"] == "{}"
    assert previous["unfinished"] == []
    approval = [t for t in previous["dashboard"] if "approved" in t and "gavel" in t]
    assert approval == [
        "#12 · 10:00:00 UTC · :material/gavel: **approved** by ann after 2.5 s\n"
        "Note: six is better\nEdited arguments that were approved\n"
        '{"path": "s.txt", "content": "6"}'  # short arguments show on one line
    ]

    older = read_everywhere(monkeypatch, store, "old000000001")
    assert older["cli"] == OLDER_LINES
    assert older["messages"][-1] == {"role": "user", "content": CUT_OFF_REQUEST}
    assert older["usage"] == [(1, 0, 0.0), (2, 0, 0.0)]
    # The halt came while the call waited: its dashboard line no longer fails for want of a scope.
    assert any("**cancelled** by bob" in text for text in older["dashboard"])


def test_fields_older_releases_left_out_read_as_their_defaults(tmp_path):
    kinds = dict(OLDER)
    started = parse_as(RunStarted, kinds["run_started"])
    assert (started.goal, started.tools, started.resumed, started.shell) == (
        "an old goal",
        [],
        False,
        None,
    )
    assert parse_as(ToolCall, kinds["tool_call"]).risk is None
    asked = parse_as(ApprovalRequested, kinds["approval_requested"])
    assert not asked.given("approval_id") and asked.approval_id is None
    result = parse_as(ToolResult, kinds["tool_result"])
    assert (result.outcome, result.duration_s, result.given("arguments")) == (None, None, False)
    assert parse_as(FinalAnswer, kinds["final_answer"]).goal_met is True


def test_an_approval_asked_before_approvals_were_numbered_ran_only_once_its_worker_saw_it(tmp_path):
    """Crash recovery reads `approval_id` being absent, not null, as the old release did. That
    release's worker wrote approval_decided (without the tool) on seeing the decision and ran the
    call at once: only then may the call have run. Approved while no such worker drove the run
    (just before or after an upgrade), it never started; today's approval_decided (with the tool)
    comes before the consuming start, so it alone says nothing either."""
    store = _old_store(tmp_path)
    stored = storage.events_after(store, run_id="old000000001")[:5]  # up to the request
    approved = SimpleNamespace(id=3, consumed_at=None, status="approved")
    pending = SimpleNamespace(id=3, consumed_at=None, status="pending")
    consumed = SimpleNamespace(id=3, consumed_at=storage.utcnow(), status="approved")
    decided = {"approval_id": 3, "tool_call_id": "x1", "decision": "approved", "decided_by": "bob"}
    by_the_old_worker = SimpleNamespace(seq=6, kind="approval_decided", payload=decided)
    by_today = SimpleNamespace(seq=6, kind="approval_decided", payload={**decided, "tool": "w"})
    another = SimpleNamespace(seq=6, kind="approval_decided", payload={**decided, "approval_id": 4})
    for events, row, may_have_run in (
        (stored, approved, False),
        (stored, pending, False),
        ([*stored, by_the_old_worker], approved, True),
        ([*stored, another], approved, False),
        ([*stored, by_today], approved, False),
        ([*stored, by_today], consumed, True),
    ):
        [call] = unfinished_calls(events, {5: row})
        assert (call.may_have_run, call.recorded) == (may_have_run, True), (events[-1], row)
    assert PREVIOUS[9][1]["approval_id"] == 1  # the previous release numbered them
