"""Attacks on the approval gate: one approval must authorise exactly one execution.

A hostile (or merely sloppy) model reuses tool-call ids, omits them, or repeats a call after an
edited approval; a careless operator decides twice, too late, or for another run; a worker dies
mid-call. Every execution is counted by its real side effect (a line appended to ledger.txt by
the `append_line` tool), and every test asserts: no ungated execution, one execution per approval.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control, decisions
from agent_core.oversight.decisions import DecisionError, approve, reject
from agent_core.oversight.policy import MonitorSettings, Policy
from agent_core.tools import Workspace, args_hash, builtin_tools, registry, tool
from agent_core.worker.claim_loop import drive_run
from storage.models import table_of
from tests.store.test_concurrent_writers import _run_processes
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

LEDGER = "ledger.txt"


@tool("medium")
def append_line(workspace: Workspace, line: str) -> str:
    """Append one line to ledger.txt (each execution leaves exactly one line).

    Args:
        line: The text of the line.
    """
    with workspace.resolve(LEDGER).open("a", encoding="utf-8") as ledger:
        ledger.write(line + "\n")
    return f"appended {line!r}"


class WorkerCrash(BaseException):
    """The worker process dying mid-call: nothing in the loop catches it."""


@tool("medium")
def append_then_crash(workspace: Workspace, line: str) -> str:
    """Append one line to ledger.txt, then the worker dies before it can record the result.

    Args:
        line: The text of the line.
    """
    append_line.fn(workspace, line)
    raise WorkerCrash("the worker died")


@pytest.fixture(autouse=True)
def ledger_tools(monkeypatch):
    """Workers and the decision checks know the two ledger tools beside the built-ins."""
    tools = {**builtin_tools(), "append_line": append_line, "append_then_crash": append_then_crash}
    monkeypatch.setattr(registry, "builtin_tools", lambda: dict(tools))  # the workers' registry
    monkeypatch.setattr(decisions, "builtin_tools", lambda: dict(tools))


def ledger(run) -> list[str]:
    path = Path(run.workspace) / LEDGER
    return path.read_text().splitlines() if path.exists() else []


def appends(*lines: str, call_id: str | None = "same", name: str = "append_line") -> dict:
    """One model turn calling append_line once per line, every call with the same model id."""
    calls = []
    for line in lines:
        call: dict = {"name": name, "arguments": {"line": line}}
        if call_id is not None:
            call["id"] = call_id
        calls.append(call)
    return {"tool_calls": calls}


def next_pending(driver: Driver, after: set[int]):
    """The next approval the run asks for (one not seen before)."""
    return wait_for(
        lambda: [
            a
            for a in storage.pending_approvals(driver.store, run_id=driver.run_id)
            if a.id not in after
        ],
        what="a new pending approval",
    )[0]


def tool_call_ids(store, run_id: str) -> list[str]:
    return [e.payload["tool_call_id"] for e in events_of(store, run_id, "tool_call")]


# ---------------------------------------------------------------- the model's ids mean nothing


def test_one_id_reused_across_turns_gets_one_execution_per_approval(store):
    model = ScriptedModel([appends("x"), appends("x"), appends("x"), "done"])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="alice")
    second = next_pending(driver, {first.id})  # the same id and arguments: asked again
    reject(store, approval_id=second.id, by="alice", note="once is enough")
    third = next_pending(driver, {first.id, second.id})
    reject(store, approval_id=third.id, by="alice", note="still once")
    assert driver.join().status == "succeeded"
    assert ledger(run) == ["x"]
    ids = tool_call_ids(store, run.id)
    assert len(ids) == len(set(ids)) == 3 and "same" not in ids
    assert [a.tool_call_id for a in (first, second, third)] == ids
    model_ids = [c["model_id"] for e in events_of(store, run.id, "model_call")[:3] for c in
                 e.payload["tool_calls"]]  # fmt: skip
    assert model_ids == ["same"] * 3  # kept for the record only


def test_one_id_repeated_within_a_turn_gets_one_execution_per_approval(store):
    model = ScriptedModel([appends("x", "x", "x"), "done"])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="alice")
    second = next_pending(driver, {first.id})
    approve(store, approval_id=second.id, by="alice")
    third = next_pending(driver, {first.id, second.id})
    reject(store, approval_id=third.id, by="alice")
    assert driver.join().status == "succeeded"
    assert ledger(run) == ["x", "x"]  # two approvals, two executions
    assert len(set(tool_call_ids(store, run.id))) == 3
    # Each result answers its own call in the history the model reads back.
    history = model.calls[-1]
    answered = [m["tool_call_id"] for m in history if m["role"] == "tool"]
    asked = [c["id"] for m in history if m.get("tool_calls") for c in m["tool_calls"]]
    assert answered == asked == tool_call_ids(store, run.id)


@pytest.mark.parametrize("model_id", [None, "call_1"], ids=["id-less", "id-repeating"])
def test_a_real_server_that_omits_or_repeats_ids(store, fake_openai, monkeypatch, model_id):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    call = {"name": "append_line", "arguments": {"line": "x"}, "id": model_id}
    fake_openai.script(
        [{"tool_calls": [call, call]}, {"tool_calls": [call]}, {"tool_calls": [call]}, "done"]
    )
    patient = Policy(monitors=MonitorSettings(repeat_same_call=10))  # four identical calls
    run = new_run(store, "append", model="openai", model_name="gpt-4o-mini", policy=patient)
    driver = Driver(store, run).start()
    seen: set[int] = set()
    for decide in (approve, reject, approve, reject):
        pending = next_pending(driver, seen)
        seen.add(pending.id)
        decide(store, approval_id=pending.id, by="alice")
    assert driver.join().status == "succeeded"
    assert ledger(run) == ["x", "x"]  # four calls, four asks, two approvals: two executions
    ids = tool_call_ids(store, run.id)
    assert len(ids) == len(set(ids)) == 4
    for request in fake_openai.requests[1:]:  # what the server got back: ids that pair up
        asked = [c["id"] for m in request["messages"] if m.get("tool_calls") for c in
                 m["tool_calls"]]  # fmt: skip
        answered = [m["tool_call_id"] for m in request["messages"] if m["role"] == "tool"]
        assert asked == answered and len(set(asked)) == len(asked)


def test_an_edited_approval_never_applies_to_a_later_different_call(store):
    model = ScriptedModel([appends("a"), appends("b"), "done"])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="carol", edited_arguments={"line": "edited"})
    second = next_pending(driver, {first.id})  # a different call: asked, not run, not denied
    assert second.arguments == {"line": "b"}
    assert ledger(run) == ["edited"]
    approve(store, approval_id=second.id, by="carol")
    assert driver.join().status == "succeeded"
    assert ledger(run) == ["edited", "b"]
    outcomes = [e.payload["outcome"] for e in events_of(store, run.id, "tool_result")]
    assert outcomes == ["ok", "ok"]


# ---------------------------------------------------------------- one decision, one execution


def _approved(store, run, *, line: str = "x", **decision):
    """A pending approval for append_line(line) on `run`, then approved."""
    arguments = {"line": line}
    pending = storage.request_approval(
        store,
        run_id=run.id,
        tool_call_id="ol0000001",
        tool="append_line",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="medium",
    )
    return approve(store, approval_id=pending.id, by="alice", **decision)


def test_an_approval_is_consumed_once_and_never_replayed(store):
    run = new_run(store, "append")
    approval = _approved(store, run)
    digest = approval.approved_hash
    storage.begin_execution(store, run_id=run.id, approval_id=approval.id, args_hash=digest)
    assert storage.get_approval(store, approval_id=approval.id).consumed_at is not None
    with pytest.raises(storage.ApprovalUnusable, match="already used"):
        storage.begin_execution(store, run_id=run.id, approval_id=approval.id, args_hash=digest)
    with pytest.raises(DecisionError, match="already approved by alice"):
        approve(store, approval_id=approval.id, by="mallory")
    with pytest.raises(DecisionError, match="already approved by alice"):
        reject(store, approval_id=approval.id, by="mallory")


def test_an_approval_runs_only_the_approved_arguments_and_only_if_approved(store):
    run = new_run(store, "append")
    approval = _approved(store, run, line="x")
    with pytest.raises(storage.ApprovalUnusable, match="arguments differ"):
        storage.begin_execution(
            store, run_id=run.id, approval_id=approval.id, args_hash=args_hash({"line": "y"})
        )
    with pytest.raises(storage.ApprovalUnusable, match="arguments differ"):
        storage.begin_execution(store, run_id=run.id, approval_id=approval.id, args_hash=None)
    rejected = storage.request_approval(
        store, run_id=run.id, tool_call_id="ol0000002", tool="append_line",
        arguments={"line": "x"}, args_hash=args_hash({"line": "x"}), risk="medium",
    )  # fmt: skip
    reject(store, approval_id=rejected.id, by="alice")
    with pytest.raises(storage.ApprovalUnusable, match="rejected, not approved"):
        storage.begin_execution(
            store, run_id=run.id, approval_id=rejected.id, args_hash=rejected.args_hash
        )
    assert storage.get_approval(store, approval_id=approval.id).consumed_at is None


def test_a_decision_for_one_run_cannot_authorise_another(store):
    owner, other = new_run(store, "append"), new_run(store, "append too")
    approval = _approved(store, owner)
    storage.claim_run(store, run_id=other.id, worker_id="w", lease_seconds=30)  # a driven run
    with pytest.raises(storage.ApprovalUnusable, match=f"belongs to run {owner.id}"):
        storage.begin_execution(
            store, run_id=other.id, approval_id=approval.id, args_hash=approval.approved_hash
        )
    assert storage.get_approval(store, approval_id=approval.id).consumed_at is None


def test_an_allowance_recorded_in_another_runs_events_is_not_honoured(store):
    owner = new_run(store, "append")
    foreign = _approved(store, owner, allow_scope="call")
    run = new_run(store, "append", model="scripted")
    # A forged decision in this run's record that names the other run's approval.
    storage.append_event(
        store,
        run_id=run.id,
        kind="approval_decided",
        payload={"approval_id": foreign.id, "decision": "approved", "allow_scope": "tool"},
    )
    model = ScriptedModel([appends("x"), "done"])
    driver = Driver(store, run, model).start()
    pending = driver.pending()  # still asked
    reject(store, approval_id=pending.id, by="alice")
    assert driver.join().status == "unmet"  # a rejected action and "done": not met
    assert ledger(run) == []


def test_a_halt_pending_refuses_to_start_a_tool_and_keeps_the_approval(store):
    run = new_run(store, "append")
    approval = _approved(store, run)
    storage.send_command(store, run_id=run.id, kind="halt", created_by="frank")
    with pytest.raises(storage.HaltRequested, match="halted by frank"):
        storage.begin_execution(
            store, run_id=run.id, approval_id=approval.id, args_hash=approval.approved_hash
        )
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(store, run_id=run.id, approval_id=None, args_hash=None)
    assert storage.get_approval(store, approval_id=approval.id).consumed_at is None


# ---------------------------------------------------------------- expiry


def _expire_now(store, approval_id: int) -> None:
    """Move a pending approval's deadline into the past (what waiting long enough does)."""
    approvals = table_of(storage.Approval)
    past = storage.utcnow() - timedelta(seconds=1)
    with store.engine.begin() as conn:
        conn.execute(update(approvals).where(approvals.c.id == approval_id).values(expires_at=past))


def test_an_expired_approval_cannot_be_decided(store):
    run = new_run(store, "append")
    pending = storage.request_approval(
        store, run_id=run.id, tool_call_id="ol0000001", tool="append_line",
        arguments={"line": "x"}, args_hash=args_hash({"line": "x"}), risk="medium",
        expires_at=storage.utcnow() + timedelta(hours=1),
    )  # fmt: skip
    _expire_now(store, pending.id)
    with pytest.raises(storage.ApprovalExpired, match=f"approval {pending.id} expired at"):
        storage.decide_approval(
            store, approval_id=pending.id, decision="approved", decided_by="late",
            approved_hash=pending.args_hash,
        )  # fmt: skip
    for decide in (approve, reject):
        with pytest.raises(DecisionError, match="expired .* can no longer be decided"):
            decide(store, approval_id=pending.id, by="late")
    assert storage.get_approval(store, approval_id=pending.id).status == "pending"
    # The worker may still close it as expired (it treats that as a rejection).
    closed = storage.decide_approval(
        store, approval_id=pending.id, decision="expired", decided_by="onloop"
    )
    assert closed.status == "expired"


def test_a_call_whose_approval_expired_while_the_worker_was_away_never_runs(store):
    model = ScriptedModel([appends("x")])
    run = new_run(store, "append", model="scripted", policy=Policy(approval_timeout_s=3600))
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    driver.stop.set()  # the worker goes away while the run waits for a person
    assert driver.join().status == "interrupted"
    _expire_now(store, pending.id)
    with pytest.raises(DecisionError, match="expired"):
        approve(store, approval_id=pending.id, by="night shift")
    control.resume_run(store, run_id=run.id, by="test")
    later = ScriptedModel(["gave up"])
    resumed = Driver(store, storage.get_run(store, run_id=run.id), later).start()
    assert resumed.join().status == "unmet"  # a rejected action and "done": not met
    assert ledger(run) == []
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["outcome"] == "rejected" and "expired" in result["output"]


# ---------------------------------------------------------------- concurrent deciders


def _decide_in_process(url, approval_id, person, barrier, results):
    try:
        store = storage.open_store(url)
        barrier.wait()
        try:
            approve(store, approval_id=approval_id, by=f"p{person}")
            results.put(("ok", "won"))
        except DecisionError:
            results.put(("ok", "lost"))
    except Exception as error:
        results.put(("error", repr(error)))


def test_of_deciders_in_several_processes_exactly_one_wins(store):
    run = new_run(store, "append")
    pending = storage.request_approval(
        store, run_id=run.id, tool_call_id="ol0000001", tool="append_line",
        arguments={"line": "x"}, args_hash=args_hash({"line": "x"}), risk="medium",
    )  # fmt: skip
    outcomes = _run_processes(_decide_in_process, [(store.url, pending.id, i) for i in range(4)])
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert storage.get_approval(store, approval_id=pending.id).decided_by.startswith("p")


def test_of_executions_racing_for_one_approval_exactly_one_starts(store):
    run = new_run(store, "append")
    approval = _approved(store, run)
    barrier, started, refused = threading.Barrier(4), [], []

    def execute() -> None:
        barrier.wait()
        try:
            storage.begin_execution(
                store, run_id=run.id, approval_id=approval.id, args_hash=approval.approved_hash
            )
            started.append(1)
        except storage.ApprovalUnusable:
            refused.append(1)

    threads = [threading.Thread(target=execute) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert (len(started), len(refused)) == (1, 3)


# ---------------------------------------------------------------- allow for the rest of the run


def test_allow_for_these_arguments_covers_exactly_them(store):
    model = ScriptedModel([appends("x"), appends("x"), appends("y"), "done"])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="dan", allow_scope="arguments")
    other = next_pending(driver, {first.id})  # "x" again ran unasked; "y" asks
    assert other.arguments == {"line": "y"}
    reject(store, approval_id=other.id, by="dan")
    assert driver.join().status == "unmet"  # a rejected action and "done": not met
    assert ledger(run) == ["x", "x"]
    verdicts = [e.payload["verdict"] for e in events_of(store, run.id, "tool_call")]
    assert verdicts == ["ask", "allow", "ask"]


def test_an_allowance_stays_inside_its_tool_and_its_run(store):
    model = ScriptedModel(
        [appends("x"), appends("x"), appends("x", name="append_then_crash"), "done"]
    )
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    approve(store, approval_id=first.id, by="dan", allow_scope="call")
    other_tool = next_pending(driver, {first.id})
    assert other_tool.tool == "append_then_crash"
    reject(store, approval_id=other_tool.id, by="dan")
    assert driver.join().status == "unmet"  # a rejected action and "done": not met
    assert ledger(run) == ["x", "x"]
    second_run = new_run(store, "append again", model="scripted")
    driver = Driver(store, second_run, ScriptedModel([appends("x"), "done"])).start()
    reject(store, approval_id=driver.pending().id, by="dan")  # the other run asks again
    assert driver.join().status == "unmet"  # a rejected action and "done": not met
    assert ledger(second_run) == []


@pytest.mark.parametrize(
    "forged",
    [
        {"tool": "*", "action": "allow"},  # no ceiling
        {"tool": "*", "action": "allow", "up_to": "escalation"},  # a ceiling, but wide open
        {"tool": "*", "action": "deny", "paths": ["x"]},  # not an allow rule at all
        {"tool": "*", "action": "allow", "bogus": 1},  # not a rule
    ],
)
def test_a_scoped_allowance_written_by_any_client_never_covers_more_than_it_may(store, forged):
    """A decision row written straight to the store (not through decisions.approve) with a wide
    rule: an uncapped or malformed rule is read as the exact call only, and a capped one covers
    nothing the classifier cannot place under its ceiling (a tool of our own: unclassified)."""
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, ScriptedModel([appends("x"), appends("y"), "done"])).start()
    first = driver.pending()
    storage.decide_approval(
        store,
        approval_id=first.id,
        decision="approved",
        decided_by="mallory",
        approved_hash=first.args_hash,
        allow_scope="prefix",
        allow_rule=forged,
    )
    second = next_pending(driver, {first.id})
    assert second.arguments == {"line": "y"}
    reject(store, approval_id=second.id, by="dan")
    assert driver.join().status == "unmet"
    assert ledger(run) == ["x"]


def test_a_whole_tool_can_no_longer_be_allowed_for_the_run(store):
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, ScriptedModel([appends("x"), "done"])).start()
    first = driver.pending()
    with pytest.raises(DecisionError, match="whole tool can no longer"):
        approve(store, approval_id=first.id, by="dan", allow_scope="tool")
    assert storage.get_approval(store, approval_id=first.id).status == "pending"
    reject(store, approval_id=first.id, by="dan")
    driver.join()


def test_an_allowance_survives_a_resume_keyed_on_its_approval(store):
    first = ScriptedModel([appends("x"), {"text": "slow", "delay_s": 30}])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, first).start()
    approve(store, approval_id=driver.pending().id, by="dan", allow_scope="call")
    wait_for(lambda: ledger(run) == ["x"], what="the approved append")
    control.pause(store, run_id=run.id, by="dan")
    driver.stop.set()
    driver.join()
    control.resume_run(store, run_id=run.id, by="dan")
    later = ScriptedModel([appends("x"), "done"])
    resumed = Driver(store, storage.get_run(store, run_id=run.id), later).start()
    assert resumed.join().status == "succeeded"
    assert ledger(run) == ["x", "x"]
    assert len(events_of(store, run.id, "approval_requested")) == 1


# ---------------------------------------------------------------- crash recovery


def _legacy_run_with_repeated_ids(store):
    """A run stored before onloop numbered calls: one turn, two calls with the model's id "c1";
    the first finished, the second was allowed and started, then the worker died."""
    run = new_run(store, "append", model="scripted", autonomy="autonomous")
    call = {"id": "c1", "name": "append_line", "arguments": '{"line": "x"}'}
    record = {"tool_call_id": "c1", "tool": "append_line", "arguments": {"line": "x"}}
    for kind, payload in [
        ("run_started", {"goal": "append"}),
        ("model_call", {"step": 1, "text": "twice", "tool_calls": [call, call]}),
        ("tool_call", {**record, "verdict": "allow"}),
        ("tool_result", {"tool_call_id": "c1", "tool": "append_line", "ok": True, "output": "ok"}),
        ("tool_call", {**record, "verdict": "allow"}),
    ]:
        storage.append_event(store, run_id=run.id, kind=kind, payload=payload)
    storage.update_run(store, run_id=run.id, status="interrupted", reason="worker lost")
    return run


def test_a_legacy_in_flight_call_with_a_repeated_id_goes_back_to_a_human(store):
    run = _legacy_run_with_repeated_ids(store)
    control.resume_run(store, run_id=run.id, by="test")
    model = ScriptedModel(["done"])
    driver = Driver(store, storage.get_run(store, run_id=run.id), model).start()
    pending = driver.pending()  # not dropped, and not re-run by itself
    assert "may or may not have taken effect" in pending.reason
    assert ledger(run) == []
    approve(store, approval_id=pending.id, by="alice")
    assert driver.join().status == "succeeded"
    assert ledger(run) == ["x"]
    history = model.calls[0]  # the stored run still rebuilds: both calls answered
    assert [m["role"] for m in history] == ["system", "user", "assistant", "tool", "tool"]


def test_a_crash_after_an_approved_call_started_never_reruns_it_without_a_human(store):
    model = ScriptedModel([appends("x", name="append_then_crash"), "done"])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model)  # claims it; driven here, not on the driver's thread
    claimed = storage.get_run(store, run_id=run.id)

    def approve_when_asked() -> None:
        approve(store, approval_id=driver.pending().id, by="alice")

    helper = threading.Thread(target=approve_when_asked, daemon=True)
    helper.start()
    with pytest.raises(WorkerCrash):
        drive_run(store, claimed, model_factory=driver.worker.model_factory)
    helper.join(30)
    assert ledger(run) == ["x"]
    first = storage.decisions(store, run_id=run.id)[0]
    assert first.consumed_at is not None  # the approval was used by the execution that crashed
    storage.update_run(store, run_id=run.id, status="interrupted", reason="worker lost")
    control.resume_run(store, run_id=run.id, by="test")
    later = ScriptedModel(["done"])
    resumed = Driver(store, storage.get_run(store, run_id=run.id), later).start()
    again = resumed.pending()
    assert again.id != first.id and "may or may not have taken effect" in again.reason
    reject(store, approval_id=again.id, by="alice", note="it already ran")
    assert resumed.join().status == "unmet"  # a rejected action and "done": not met
    assert ledger(run) == ["x"]  # ran once, with its one approval; never again


def test_a_decision_made_while_the_worker_was_away_runs_its_call_once(store):
    model = ScriptedModel([appends("x", "x")])
    run = new_run(store, "append", model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    driver.stop.set()
    assert driver.join().status == "interrupted"
    approve(store, approval_id=pending.id, by="night shift")
    control.resume_run(store, run_id=run.id, by="test")
    resumed = Driver(store, storage.get_run(store, run_id=run.id), ScriptedModel(["done"]))
    resumed.start()
    second = next_pending(resumed, {pending.id})  # the turn's other call asks for itself
    reject(store, approval_id=second.id, by="night shift")
    assert resumed.join().status == "succeeded"
    assert ledger(run) == ["x"]
    assert storage.get_approval(store, approval_id=pending.id).consumed_at is not None


def test_tool_start_refused_after_approval_when_a_halt_arrived_first(store, monkeypatch):
    """The halt lands between the decision and the tool start: begin_execution refuses."""
    model = ScriptedModel([appends("x"), "done"])
    run = new_run(store, "append", model="scripted")
    real = storage.begin_execution

    def halt_first(store_, **kwargs):
        storage.send_command(store_, run_id=kwargs["run_id"], kind="halt", created_by="frank")
        return real(store_, **kwargs)

    monkeypatch.setattr(storage, "begin_execution", halt_first)
    driver = Driver(store, run, model).start()
    approval = driver.pending()
    approve(store, approval_id=approval.id, by="alice")
    assert driver.join().status == "halted"
    assert ledger(run) == []
    assert storage.get_approval(store, approval_id=approval.id).consumed_at is None


# ---------------------------------------------------------------- asking and waiting: one write


def test_no_reader_ever_sees_a_pending_approval_on_a_running_run(store):
    """After every committed ORM write (approvals are written through sessions), a fresh reader
    finds no pending approval on a `running` run: the request and `waiting` are one commit."""
    seen: list[tuple[str, str]] = []
    checking = threading.local()

    def check(session) -> None:
        if getattr(checking, "on", False):
            return
        checking.on = True
        try:
            for approval in storage.pending_approvals(store):
                status = storage.get_run(store, run_id=approval.run_id).status
                seen.append((approval.tool, status))
        finally:
            checking.on = False

    event.listen(Session, "after_commit", check)
    try:
        run = new_run(store, "append", model="scripted")
        driver = Driver(store, run, ScriptedModel([appends("x")])).start()
        pending = driver.pending()
        driver.stop.set()  # the worker goes away while the run waits; then the run resumes
        assert driver.join().status == "interrupted"
        control.resume_run(store, run_id=run.id, by="test")
        resumed = Driver(store, storage.get_run(store, run_id=run.id), ScriptedModel(["done"]))
        assert storage.get_run(store, run_id=run.id).status == "waiting"  # claimed, still asking
        resumed.start()
        assert resumed.pending().id == pending.id  # asked once, not twice
        approve(store, approval_id=pending.id, by="alice")
        assert resumed.join().status == "succeeded"
    finally:
        event.remove(Session, "after_commit", check)
    statuses = {status for _, status in seen}
    assert seen and statuses <= {"waiting", "interrupted", "queued"}, seen
    assert ledger(run) == ["x"]
    assert len(events_of(store, run.id, "approval_requested")) == 1
