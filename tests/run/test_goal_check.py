"""A claim checked against the whole run: a text-only first reply is asked to act (once, and a
resume asks the same), and the goal-check judge sees a summary of everything the tools did, not
the last messages only (against the fake Chat Completions server, a judge that confirms only
what it is shown)."""

from __future__ import annotations

import json
from pathlib import Path

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import approve, resume_for_decision
from agent_core.oversight.policy import MonitorSettings, Policy
from agent_core.run.conversation import ACT_REQUEST
from tests.support.run_helpers import Driver, events_of, new_run


def test_a_text_only_first_reply_is_asked_to_act_once_and_a_resume_asks_the_same(store):
    write = {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}]}
    model = ScriptedModel(["I will write a.txt.", write])
    run = new_run(store, "write a.txt", model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    assert model.calls[1][-1] == {"role": "user", "content": ACT_REQUEST}
    driver.stop.set()
    assert driver.join().status == "interrupted"
    done = approve(store, approval_id=pending.id, by="nina")
    assert resume_for_decision(store, done, by="nina") is not None
    later = ScriptedModel(["Wrote a.txt."])
    resumed = Driver(store, storage.get_run(store, run_id=run.id), later).start().join()
    assert resumed.status == "succeeded"
    sent = later.calls[0]
    assert [m["content"] for m in sent].count(ACT_REQUEST) == 1
    assert sent[: len(model.calls[1])] == model.calls[1]
    assert (Path(run.workspace) / "a.txt").read_text() == "x"


def _twenty_files(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    (seed / "notes").mkdir(parents=True)
    for n in range(1, 21):
        (seed / "notes" / f"note{n:02}.md").write_text(f"# Title {n}\n")
    return seed


def _real_model(monkeypatch, fake_openai) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def _judge_of_everything(body: dict) -> str:
    """A judge that confirms only what it was shown: every one of the 20 files read."""
    shown = body["messages"][-1]["content"]
    missing = [n for n in range(1, 21) if f"notes/note{n:02}.md" not in shown]
    if missing:
        return json.dumps({"met": False, "reason": f"notes {missing} were never shown read"})
    return json.dumps({"met": True, "reason": "all 20 files were read"})


def test_the_goal_check_sees_the_whole_run_and_confirms_20_files_read(
    store, fake_openai, monkeypatch, tmp_path
):
    _real_model(monkeypatch, fake_openai)
    reads = [
        {"name": "read_file", "arguments": {"path": f"notes/note{n:02}.md"}} for n in range(1, 21)
    ]
    fake_openai.script(
        [
            {"tool_calls": reads[:10]},
            {"tool_calls": reads[10:]},
            "Read all 20.",
            _judge_of_everything,
        ]
    )
    policy = Policy(monitors=MonitorSettings(final_check=True))
    run = new_run(
        store,
        "Read all 20 files in notes/",
        model="openai",
        model_name="gpt-4o-mini",
        policy=policy,
        seed_from=str(_twenty_files(tmp_path)),
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "succeeded", outcome
    check = events_of(store, run.id, "goal_check")[0].payload
    assert check["met"] is True and check["reason"] == "all 20 files were read"
    shown = fake_openai.requests[-1]["messages"][-1]["content"]
    assert "Files read (20):" in shown and "notes/note01.md (10 bytes)" in shown


def test_a_claim_the_structure_refutes_never_reaches_the_judge(
    store, fake_openai, monkeypatch, tmp_path
):
    _real_model(monkeypatch, fake_openai)
    reads = [{"name": "read_file", "arguments": {"path": f"notes/note{n:02}.md"}} for n in (1, 2)]
    fake_openai.script([{"tool_calls": reads}, "Read all 20."])  # no judge reply scripted
    policy = Policy(monitors=MonitorSettings(final_check=True))
    run = new_run(
        store,
        "Read all 20 files in notes/",
        model="openai",
        model_name="gpt-4o-mini",
        policy=policy,
        seed_from=str(_twenty_files(tmp_path)),
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "unmet" and "only 2 of the 20 files" in outcome.reason
    assert len(fake_openai.requests) == 2 and events_of(store, run.id, "goal_check") == []


def test_what_the_run_did_is_on_record_while_the_goal_check_runs(
    store, fake_openai, monkeypatch, tmp_path
):
    """The turn's answer and its last tool's result are held for the next write (one commit
    fewer a call); the goal check is a model call with no write before it, so they are written
    first: a person watching sees them while the check runs."""
    _real_model(monkeypatch, fake_openai)
    seen: list[list[str]] = []

    def judge(body: dict) -> str:
        seen.append([e.kind for e in storage.events_after(store, run_id=run.id)])
        return json.dumps({"met": True, "reason": "a.txt was written"})

    write = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
    finish = {"name": "finish", "arguments": {"goal_met": True, "summary": "wrote a.txt"}}
    fake_openai.script([{"tool_calls": [write]}, {"tool_calls": [finish]}, judge])
    policy = Policy(monitors=MonitorSettings(final_check=True))
    run = new_run(
        store,
        "write a.txt",
        model="openai",
        model_name="gpt-4o-mini",
        policy=policy,
        autonomy="autonomous",
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "succeeded", outcome
    [during] = seen
    assert during.count("tool_result") == 1
    assert during[-1] == "model_call"  # the finishing answer, before its check
    assert "final_answer" not in during
    kinds = [e.kind for e in storage.events_after(store, run_id=run.id)]
    assert kinds.count("model_call") == 2 and kinds.index("goal_check") < kinds.index(
        "final_answer"
    )
