"""Every event kind, written by the code that really writes it (runs driven by a scripted model,
people deciding and steering through the oversight functions, the store's own status changes),
read back through every reader.

A model field renamed without its writer fails here: the writer's keyword becomes an extra key
the model does not name (assert_models_hold_the_record). Renamed without a reader, mypy fails
(readers use attributes); renamed with both, the old-store test fails: the previous release's
key is no longer read (test_event_record_old_store.py). A new kind without a writer in this file
fails the coverage check at the end.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import storage
from agent_core.cli.render import render_event
from agent_core.models.base import ModelError
from agent_core.models.openai_model import OpenAIModel
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control, decisions
from agent_core.oversight.policy import MonitorSettings, Policy, Rule
from agent_core.run.auto_resume import recover_lapsed
from storage.record import ApprovalDecided, ToolCall, ToolResult, parse_as, parse_event
from storage.vocabulary import EventKind, Verdict
from tests.store.event_readers import (
    assert_models_hold_the_record,
    dashboard_text,
    read_everywhere,
)
from tests.support.run_helpers import Driver, events_of, new_run, wait_for


def _calls(*calls: tuple[str, dict]) -> dict:
    return {"text": "working", "tool_calls": [{"name": n, "arguments": a} for n, a in calls]}


def _checked_run(store: storage.Store, fake_openai) -> str:
    """Allowed and invalid calls, the progress judge, the final goal check: succeeded. A real
    model's run (the fake Chat Completions server): scripted runs are never judged."""
    policy = Policy(monitors=MonitorSettings(judge_every=1, judge_threshold=0.5, final_check=True))
    fake_openai.script(
        [
            _calls(("calculator", {"expression": "1+1"}), ("no_such_tool", {})),
            '{"score": 0.9, "reason": "on track"}',
            "It is 2.",
            '{"met": true, "reason": "the sum was given"}',
        ]
    )
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)
    run = new_run(store, "add 1 and 1", model="openai", policy=policy)
    assert Driver(store, run, model).start().join().status == "succeeded"
    return run.id


def _steered_run(store: storage.Store) -> str:
    """Asked calls approved (with an edit) and rejected, guidance, a denied call, then the
    step budget trips (drift) and the run pauses."""
    deny = Rule(tool="list_files", action="deny", reason="not now", name="no listing")
    model = ScriptedModel(
        [
            _calls(("write_file", {"path": "a.txt", "content": "a"})),
            _calls(("write_file", {"path": "b.txt", "content": "b"})),
            _calls(("list_files", {})),
            "never asked: the budget is spent",
        ]
    )
    run = new_run(
        store, "write two files", model="scripted", max_steps=3, policy=Policy(rules=[deny])
    )
    driver = Driver(store, run, model).start()
    edited = {"path": "a.txt", "content": "edited"}
    decisions.approve(store, approval_id=driver.pending().id, by="ann", edited_arguments=edited)
    wait_for(lambda: events_of(store, run.id, "tool_result"), what="the first result")
    second = driver.pending()
    control.guide(store, run_id=run.id, by="ann", message="use shorter names")
    decisions.reject(store, approval_id=second.id, by="ann", note="not b")
    assert driver.join().status == "paused"
    return run.id


def _halted_while_asking(store: storage.Store) -> str:
    """c.txt approved and allowed again for the run; that allowance revoked while d.txt waits
    (the worker reads the revoke after d); halted while e.txt waits."""
    model = ScriptedModel(
        [_calls(("write_file", {"path": f"{name}.txt", "content": name})) for name in "cde"]
    )
    run = new_run(store, "write c, d and e", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    decisions.approve(store, approval_id=first.id, by="bob", allow_scope="call")
    second = driver.pending(after=first.id)
    control.revoke_allowance(store, run_id=run.id, approval_id=first.id, by="bob")
    decisions.approve(store, approval_id=second.id, by="bob")
    driver.pending(after=second.id)
    control.halt(store, run_id=run.id, by="bob")
    assert driver.join().status == "halted"
    return run.id


def _lost_then_recovered(store: storage.Store) -> str:
    """A worker dies holding the run; another resumes it; the model then fails."""
    run = new_run(store, "add up", model="scripted", autonomy="autonomous")
    storage.claim_run(store, run_id=run.id, worker_id="dead", lease_seconds=30)
    assert storage.expire_leases(store, now=storage.utcnow() + timedelta(hours=1)) == [run.id]
    assert recover_lapsed(store, by="w2") == [run.id]
    outcome = Driver(store, run, ScriptedModel([ModelError("the server said no")])).start().join()
    assert outcome.status == "failed"
    return run.id


def test_every_kind_written_by_its_writer_reads_back_through_every_reader(
    store, monkeypatch, tmp_path, fake_openai
):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    halted = _halted_while_asking(store)
    checked = _checked_run(store, fake_openai)
    runs = [checked, _steered_run(store), halted, _lost_then_recovered(store)]
    written: set[str] = set()
    verdicts: set[str] = set()
    for run_id in runs:
        read = read_everywhere(monkeypatch, store, run_id)
        stored = read["stored"]
        written |= {e.kind for e in stored}
        assert_models_hold_the_record(stored)
        assert read["cli_export"] == read["dashboard_export"] == [e.exported() for e in stored]
        assert [e["payload"] for e in read["cli_export"]] == [e.payload for e in stored]
        calls = [parse_as(ToolCall, e.payload) for e in stored if e.kind == "tool_call"]
        verdicts |= {str(c.verdict) for c in calls}
        for call, line in zip(stored, read["cli"], strict=True):
            if call.kind == "tool_call":
                assert f"→ {call.payload['tool']}(" in str(line)
        results = [parse_as(ToolResult, e.payload) for e in stored if e.kind == "tool_result"]
        tool_messages = [m for m in read["messages"] if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in tool_messages] == [r.tool_call_id for r in results]
        assert [m["content"] for m in tool_messages] == [r.output for r in results]
        # Every call of the last turn got its result, but the one the halt left unanswered.
        assert [u.call.name for u in read["unfinished"]] == (
            ["write_file"] if run_id == halted else []
        )
        for event, text in zip(stored, read["dashboard"], strict=True):
            assert text, f"the dashboard drew nothing for {event.kind}"

    assert verdicts == set(Verdict), "allowed, asked, denied and invalid calls were all written"
    assert written == set(EventKind), f"kinds no writer test covers: {set(EventKind) - written}"


def test_what_the_readers_show_is_what_the_writers_wrote(store, monkeypatch, tmp_path):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    read = read_everywhere(monkeypatch, store, _steered_run(store))
    by_kind: dict[str, list[int]] = {}
    for index, e in enumerate(read["stored"]):
        by_kind.setdefault(e.kind, []).append(index)
    first, second = (read["parsed"][i] for i in by_kind["approval_decided"])
    assert isinstance(first, ApprovalDecided) and first.decision == "approved"
    assert first.edited_arguments == {"path": "a.txt", "content": "edited"} and first.edit
    assert second.decision == "rejected" and second.note == "not b" and second.edited is None
    lines = [read["cli"][i] for i in by_kind["approval_decided"]]
    assert lines[0].startswith("  ✋ approved with edited arguments") and "by ann" in lines[0]
    assert lines[1] == "  ✋ rejected by ann: not b"
    [guidance] = [read["cli"][i] for i in by_kind["guidance"]]
    assert guidance == "  ✎ guidance from ann: use shorter names"
    assert {"role": "user", "content": "Guidance from a human: use shorter names"} in read[
        "messages"
    ]
    [drift] = [read["dashboard"][i] for i in by_kind["drift"]]
    assert "Monitor **budget\\_steps** stopped the run (paused): used 3 of 3 steps" in drift
    [edited] = [read["parsed"][i] for i in by_kind["tool_result"]][:1]
    assert edited.edited_by == "ann" and edited.requested_arguments == {
        "path": "a.txt",
        "content": "a",
    }


@pytest.mark.parametrize("kind", [*sorted(EventKind), "a_kind_from_a_newer_release"])
def test_a_payload_of_the_wrong_shape_is_read_not_refused(kind, monkeypatch):
    odd = {"tool_calls": "x", "status": [5], "text": None, "ok": [1], "problems": 3, "shell": 1}
    for payload in ({}, odd, {"unknown": {"nested": True}}, [1, 2], None):
        parsed = parse_event(kind, payload)
        assert parsed.kind == kind
        if isinstance(payload, dict):
            assert parsed.payload() == payload  # given back as it was stored
        render_event(kind, payload, 1)  # a line or None; never an error
        event = storage.EventRecord("r", 1, kind, storage.utcnow(), payload)  # type: ignore[arg-type]
        dashboard_text(monkeypatch, event)
