"""A deny rule added while a call waits for a person wins over the person's yes.

An admin who sees a call asked about and adds a project rule that denies such calls (for this
path, this folder, the tool, every tool) means "never": an approver's yes given after it, from the
inbox, a link or the CLI, must not run the call. The worker decides the call again under the
rules in force when the yes arrives, as it does for an edited call, and refuses it on record.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.project_rules import add_rule
from agent_core.tools import args_hash
from tests.support.run_helpers import Driver, events_of, new_run

GOAL = "Write the notes"
DENIALS = {
    "this path": {"tool": "write_file", "paths": ["notes/plan.md"], "action": "deny"},
    "its folder": {"tool": "write_file", "paths": ["notes/"], "action": "deny"},
    "the tool": {"tool": "write_file", "action": "deny"},
    "every tool on the path": {"tool": "*", "paths": ["notes/"], "action": "deny"},
}


def _write(path: str) -> dict:
    return {"tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": "x"}}]}


@pytest.mark.parametrize("rule", DENIALS.values(), ids=DENIALS.keys())
@pytest.mark.parametrize("scope", [None, "call"], ids=["once", "for-the-run"])
def test_a_call_denied_while_it_waited_is_not_run_on_a_yes(store, rule, scope):
    model = ScriptedModel([_write("notes/plan.md"), _write("notes/plan.md"), "done"])
    run = new_run(store, GOAL, model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    add_rule(store, rule, by="admin")  # while it waits
    approve(store, approval_id=pending.id, by="ann", allow_scope=scope)
    driver.join()
    assert not (Path(run.workspace) / "notes" / "plan.md").exists()
    results = events_of(store, run.id, "tool_result")
    assert results and all(r.payload["outcome"] != "ok" for r in results), results
    first = results[0].payload
    assert first["outcome"] == "denied" and "now denies" in first["output"], first
    errors = [e.payload["message"] for e in events_of(store, run.id, "error")]
    assert any("now denies" in message for message in errors), errors


def test_a_rule_that_does_not_cover_the_call_leaves_the_yes_standing(store):
    model = ScriptedModel([_write("notes/plan.md"), "done"])
    run = new_run(store, GOAL, model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    add_rule(store, {"tool": "write_file", "paths": ["src/"], "action": "deny"}, by="admin")
    approve(store, approval_id=pending.id, by="ann")
    driver.join()
    assert (Path(run.workspace) / "notes" / "plan.md").read_text() == "x"
    assert storage.get_approval(store, approval_id=pending.id).consumed_at is not None


def test_an_edit_into_the_newly_denied_folder_is_not_run_either(store):
    """A careless approver edits the waiting call to another file of the folder an admin has
    just denied: the edited call is decided under the rules in force too, and refused."""
    model = ScriptedModel([_write("draft.md"), "done"])
    run = new_run(store, GOAL, model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    add_rule(store, DENIALS["its folder"], by="admin")
    edited = {"path": "notes/other.md", "content": "x"}
    with pytest.raises(DecisionError, match="denies the edited call"):
        approve(store, approval_id=pending.id, by="ann", edited_arguments=edited)
    storage.decide_approval(  # written past the decision path (a script, hand-written SQL)
        store,
        approval_id=pending.id,
        decision="approved",
        decided_by="ann",
        edited_arguments=edited,
        approved_hash=args_hash(edited),
    )
    driver.join()
    workspace = Path(run.workspace)
    assert not (workspace / "notes" / "other.md").exists()
    assert not (workspace / "draft.md").exists()
    first = events_of(store, run.id, "tool_result")[0].payload
    assert first["outcome"] == "denied" and "denies the edited call" in first["output"], first
