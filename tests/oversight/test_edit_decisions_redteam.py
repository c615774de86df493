"""Red-team variants on edited approvals (hard-appr) that held: who decides an edit, when, and how
often. Deciders race with different edits of one approval: one wins, and the worker runs exactly
the winner's arguments once. An edit of an approval already decided, of a run that ended, or by
a signed-in person without the approver role is refused and writes nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import DecisionError, approve, reject
from agent_core.oversight.policy import Policy, Rule
from agent_core.oversight.signin_roles import Person
from agent_core.tools import args_hash
from tests.support.dashboard_seed import make_approval
from tests.support.run_helpers import Driver, events_of, new_run

ASK_ALL = Policy(rules=[Rule(tool="*", action="ask", reason="every call asks")])
WRITE = {"path": "notes.md", "content": "asked"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.md").write_text("before")
    return root


def _waiting(store, folder: Path):
    run = new_run(store, "edit", policy=ASK_ALL, workspace=str(folder), model="scripted")
    return run, make_approval(store, run, tool="write_file", arguments=WRITE, risk="medium",
                              summary="write notes.md")  # fmt: skip


def test_deciders_racing_with_different_edits_run_exactly_the_winners_once(store, folder):
    model = ScriptedModel([{"tool_calls": [{"name": "write_file", "arguments": WRITE}]}, "done"])
    run = new_run(store, "edit", policy=ASK_ALL, workspace=str(folder), model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    barrier, won, lost = threading.Barrier(6), [], []

    def decide(index: int) -> None:
        edited = {"path": f"edit-{index}.md", "content": f"by {index}"}
        barrier.wait()
        try:
            approve(store, approval_id=pending.id, by=f"p{index}", edited_arguments=edited)
            won.append(index)
        except DecisionError:
            lost.append(index)

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    driver.join()
    assert len(won) == 1 and len(lost) == 5
    (winner,) = won
    written = sorted(p.name for p in folder.iterdir())
    assert written == sorted([f"edit-{winner}.md", "notes.md"]), written
    assert (folder / "notes.md").read_text() == "before"
    started = events_of(store, run.id, "tool_started")
    results = events_of(store, run.id, "tool_result")
    assert len(started) == 1 and len(results) == 1
    row = storage.get_approval(store, approval_id=pending.id)
    assert row.approved_hash == args_hash(row.edited_arguments) and row.consumed_at is not None


@pytest.mark.parametrize("first", ["approved", "rejected", "approved with another edit"])
def test_an_edit_of_an_approval_already_decided_is_refused(store, folder, first):
    _run, approval = _waiting(store, folder)
    if first == "rejected":
        reject(store, approval_id=approval.id, by="ada", note="no")
    else:
        edited = {"path": "first.md", "content": "x"} if "edit" in first else None
        approve(store, approval_id=approval.id, by="ada", edited_arguments=edited)
    before = storage.get_approval(store, approval_id=approval.id)
    with pytest.raises(DecisionError, match="already"):
        approve(store, approval_id=approval.id, by="mallory",
                edited_arguments={"path": "late.md", "content": "x"})  # fmt: skip
    after = storage.get_approval(store, approval_id=approval.id)
    assert (after.status, after.edited_arguments, after.decided_by) == (
        before.status, before.edited_arguments, before.decided_by,
    )  # fmt: skip


@pytest.mark.parametrize("ended", ["halted", "failed", "succeeded", "unmet"])
def test_an_edit_of_an_approval_whose_run_ended_is_refused(store, folder, ended):
    run, approval = _waiting(store, folder)
    storage.update_run(store, run_id=run.id, status=ended)
    with pytest.raises(DecisionError, match="already ended"):
        approve(store, approval_id=approval.id, by="ada",
                edited_arguments={"path": "late.md", "content": "x"})  # fmt: skip
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"


@pytest.mark.parametrize("role", [None, "viewer", "operator"])
def test_an_edit_by_a_signed_in_person_below_approver_is_refused(store, folder, role):
    _run, approval = _waiting(store, folder)
    person = Person(name="eve@example.test", role=role, mode="oidc", subject="eve")
    with pytest.raises(DecisionError):
        approve(store, approval_id=approval.id, by=person,
                edited_arguments={"path": "other.md", "content": "x"})  # fmt: skip
    row = storage.get_approval(store, approval_id=approval.id)
    assert row.status == "pending" and row.edited_arguments is None


def test_a_store_level_second_decision_of_an_edited_approval_changes_nothing(store, folder):
    """A raw client (no decisions module) deciding again: the first decision stands as written."""
    _run, approval = _waiting(store, folder)
    first = {"path": "first.md", "content": "x"}
    approve(store, approval_id=approval.id, by="ada", edited_arguments=first)
    second = {"path": "second.md", "content": "y"}
    with pytest.raises(storage.StoreError):
        storage.decide_approval(
            store, approval_id=approval.id, decision="approved", decided_by="raw",
            edited_arguments=second, approved_hash=args_hash(second),
        )  # fmt: skip
    row = storage.get_approval(store, approval_id=approval.id)
    assert row.edited_arguments == first and row.approved_hash == args_hash(first)
