"""Approvals in the loop: approve, reject with a note, edited arguments, hash mismatch, expiry, halts."""

from __future__ import annotations

from pathlib import Path

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import approve, reject
from agent_core.oversight.policy import Policy
from agent_core.tools import args_hash
from storage.insights import decisions_per_tool
from tests.support.run_helpers import Driver, events_of, kinds, new_run, wait_for

REPORT = "Summarise the files in the workspace into report.md"


def test_supervised_write_waits_for_approval_then_runs(store):
    run = new_run(store, REPORT, model="demo")
    driver = Driver(store, run).start()
    pending = driver.pending()
    assert pending.tool == "write_file" and pending.risk == "medium"
    assert pending.summary.startswith("write ") and "report.md" in pending.summary
    assert pending.reason == "medium-risk tool in supervised mode"
    assert storage.get_run(store, run_id=run.id).status == "waiting"
    assert not (Path(run.workspace) / "report.md").exists()  # nothing ran before the decision
    approve(store, approval_id=pending.id, by="alice")
    assert driver.join().status == "succeeded"
    report = (Path(run.workspace) / "report.md").read_text()
    assert "meeting_notes.md" in report
    decided = events_of(store, run.id, "approval_decided")[0].payload
    assert decided["decided_by"] == "alice" and decided["args_hash"] == pending.args_hash
    order = kinds(store, run.id)
    assert order.index("approval_requested") < order.index("approval_decided")


def test_rejection_note_reaches_the_model_and_it_adapts(store):
    run = new_run(store, REPORT, model="demo")
    driver = Driver(store, run).start()
    reject(store, approval_id=driver.pending().id, by="bob", note="call it summary.md")
    second = driver.pending()
    assert second.arguments["path"] == "summary.md"
    approve(store, approval_id=second.id, by="bob")
    assert driver.join().status == "succeeded"
    assert (Path(run.workspace) / "summary.md").exists()
    assert not (Path(run.workspace) / "report.md").exists()
    rejected = events_of(store, run.id, "tool_result")
    assert any(r.payload["output"] == "Rejected by a human: call it summary.md" for r in rejected)


def test_plain_rejection_runs_nothing_and_the_model_explains(store):
    run = new_run(store, REPORT, model="demo")
    driver = Driver(store, run).start()
    reject(store, approval_id=driver.pending().id, by="bob", note="no")
    outcome = driver.join()
    assert outcome.status == "unmet" and "report.md" in outcome.result  # nothing was written
    assert not (Path(run.workspace) / "report.md").exists()


def test_edited_arguments_run_exactly_as_edited(store):
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
                ]
            },
            "written",
        ]
    )
    run = new_run(store, "write", model="scripted")
    driver = Driver(store, run, model).start()
    edited = {"path": "b.txt", "content": "edited by a human"}
    approve(store, approval_id=driver.pending().id, by="carol", edited_arguments=edited)
    assert driver.join().status == "succeeded"
    workspace = Path(run.workspace)
    assert (workspace / "b.txt").read_text() == "edited by a human"
    assert not (workspace / "a.txt").exists()
    decided = storage.decisions(store, run_id=run.id)[0]
    assert decided.arguments == {"path": "a.txt", "content": "x"}  # the original, kept beside
    assert decided.edited_arguments == edited and decided.approved_hash == args_hash(edited)
    assert events_of(store, run.id, "tool_result")[0].payload["arguments"] == edited


def test_arguments_that_do_not_match_the_approved_hash_are_refused(store):
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
                ]
            },
            "ok",
        ]
    )
    run = new_run(store, "write", model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    # A decision whose hash pins other arguments than the ones that would run.
    storage.decide_approval(
        store,
        approval_id=pending.id,
        decision="approved",
        decided_by="eve",
        approved_hash=args_hash({"path": "a.txt", "content": "other"}),
    )
    assert driver.join().status == "unmet"  # "ok" after a write that never ran is not success
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied" and "do not match" in result["output"]
    assert not (Path(run.workspace) / "a.txt").exists()


def _writes(*paths: str) -> list[dict]:
    return [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": p, "content": "x"}}]}
        for p in paths
    ]


def test_a_folder_allowed_for_the_rest_of_the_run_stops_asking_there_only(store):
    model = ScriptedModel([*_writes("docs/a.md", "docs/b.md", "src/c.py"), "done"])
    run = new_run(store, "write three", model="scripted", autonomy="manual")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="dan", allow_scope="folder")
    elsewhere = driver.pending(after=first.id)  # docs/b.md ran unasked; src/ asks
    assert elsewhere.arguments["path"] == "src/c.py"
    approve(store, approval_id=elsewhere.id, by="dan")
    assert driver.join().status == "succeeded"
    verdicts = [e.payload["verdict"] for e in events_of(store, run.id, "tool_call")]
    assert verdicts == ["ask", "allow", "ask"]
    decided = events_of(store, run.id, "approval_decided")[0].payload
    assert decided["allow_scope"] == "folder"
    assert (
        decided["allow_rule"]["paths"] == ["/docs/"] and decided["allow_rule"]["up_to"] == "write"
    )


def test_a_revoked_allowance_asks_again_and_stays_revoked_after_a_resume(store):
    writes = _writes("docs/a.md", "docs/b.md", "src/x.py", "docs/c.md")
    model = ScriptedModel([*writes, {"text": "slow", "delay_s": 30}])
    run = new_run(store, "write", model="scripted", autonomy="manual")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="dan", allow_scope="folder")
    waiting = driver.pending(after=first.id)  # docs/b.md ran unasked; src/x.py waits
    control.revoke_allowance(store, run_id=run.id, approval_id=first.id, by="dan")
    approve(store, approval_id=waiting.id, by="dan")
    again = driver.pending(after=waiting.id)  # read the revoke before the next step: asks
    assert again.arguments["path"] == "docs/c.md"
    approve(store, approval_id=again.id, by="dan")
    wait_for(lambda: len(events_of(store, run.id, "tool_result")) == 4, what="c.md written")
    control.pause(store, run_id=run.id, by="dan")
    driver.stop.set()
    driver.join()
    revoked = events_of(store, run.id, "allowance_revoked")
    assert [(e.payload["approval_id"], e.payload["by"]) for e in revoked] == [(first.id, "dan")]
    control.resume_run(store, run_id=run.id, by="dan")
    later = ScriptedModel([*_writes("docs/d.md"), "done"])
    resumed = Driver(store, storage.get_run(store, run_id=run.id), later).start()
    last = resumed.pending(after=again.id)  # the replayed record keeps it revoked
    assert last.arguments["path"] == "docs/d.md"
    approve(store, approval_id=last.id, by="dan")
    assert resumed.join().status == "succeeded"


def test_autonomous_still_asks_for_high_risk_and_manual_asks_for_everything(store):
    cleanup = new_run(
        store, "Clean up the temporary files in the workspace", model="demo", autonomy="autonomous"
    )
    driver = Driver(store, cleanup).start()
    assert driver.pending().tool == "delete_files"
    control.halt(store, run_id=cleanup.id, by="t")
    driver.join()
    manual = new_run(store, "What is 17.5% of 2,340, plus 118?", model="demo", autonomy="manual")
    driver = Driver(store, manual).start()
    assert driver.pending().tool == "calculator"
    control.halt(store, run_id=manual.id, by="t")
    driver.join()


def test_expired_approval_counts_as_rejected(store):
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
                ]
            },
            "gave up",
        ]
    )
    run = new_run(store, "write", model="scripted", policy=Policy(approval_timeout_s=0.3))
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "unmet" and "write_file" in outcome.reason
    decided = events_of(store, run.id, "approval_decided")[0].payload
    assert decided["decision"] == "expired"
    assert "expired" in events_of(store, run.id, "tool_result")[0].payload["output"]
    assert not (Path(run.workspace) / "a.txt").exists()


def test_halt_while_waiting_for_approval_runs_nothing(store):
    run = new_run(store, REPORT, model="demo")
    driver = Driver(store, run).start()
    pending = driver.pending()
    control.halt(store, run_id=run.id, by="frank")
    outcome = driver.join()
    assert outcome.status == "halted" and "frank" in outcome.reason
    cancelled = storage.get_approval(store, approval_id=pending.id)
    assert (cancelled.status, cancelled.decided_by) == ("cancelled", "frank")  # not "expired"
    decided = events_of(store, run.id, "approval_decided")[-1].payload
    assert decided["decision"] == "cancelled" and decided["decided_by"] == "frank"
    assert decisions_per_tool(store) == []  # Insights counts no expiry, no decision
    assert not (Path(run.workspace) / "report.md").exists()
    assert events_of(store, run.id, "tool_result") == [] or all(
        e.payload["tool"] != "write_file" for e in events_of(store, run.id, "tool_result")
    )


def test_halt_while_the_model_is_thinking_cancels_the_call(store):
    model = ScriptedModel([{"text": "slow", "delay_s": 30}])
    run = new_run(store, "think hard", model="scripted")
    driver = Driver(store, run, model).start()
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "running", what="running")
    control.halt(store, run_id=run.id, by="grace")
    outcome = driver.join(timeout=10)  # long before the 30 s answer would arrive
    assert outcome.status == "halted"
    assert events_of(store, run.id, "model_call") == []
    final = storage.get_run(store, run_id=run.id)
    assert final.status == "halted" and final.finished_at is not None


def test_no_model_call_or_tool_starts_after_a_halt(store):
    model = ScriptedModel(
        [
            {
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}],
                "delay_s": 0.3,
            },
            {
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"}}],
                "delay_s": 0.3,
            },
            "done",
        ]
    )
    run = new_run(store, "count", model="scripted", autonomy="autonomous")
    driver = Driver(store, run, model).start()
    wait_for(lambda: events_of(store, run.id, "tool_result"), what="the first result")
    control.halt(store, run_id=run.id, by="h")
    assert driver.join().status == "halted"
    halt_seq = next(
        e.seq
        for e in reversed(storage.events_after(store, run_id=run.id))
        if e.kind == "status" and e.payload["status"] == "halted"
    )
    after = [
        e.kind
        for e in storage.events_after(store, run_id=run.id, after_seq=0)
        if e.kind in ("model_call", "tool_result")
    ]
    assert after.count("tool_result") <= 2 and halt_seq > 0
