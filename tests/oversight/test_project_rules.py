"""Project rules (issue 21 part 3): stored, versioned and audited; applied to every run's next
call without a restart; made from an approval by an admin only; exported to the policy file;
and suggested from decisions, never allowing what someone refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.oversight.project_rules import (
    ProjectRuleError,
    add_rule,
    checked_rule,
    export_toml,
    with_project_rules,
)
from agent_core.oversight.signin_roles import Person
from agent_core.oversight.suggestions import suggest
from tests.support import dashboard_seed as seed
from tests.support.run_helpers import Driver, events_of, new_run

SHIPPED = parse_policy(default_policy_text(), source="built-in defaults")
DOCS = {"tool": "write_file", "paths": ["/docs/"], "action": "allow", "up_to": "write"}


def writes(*paths: str) -> list[dict]:
    return [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": p, "content": "x"}}]}
        for p in paths
    ]


# -- the store ------------------------------------------------------------------------------


def test_rules_are_versioned_and_every_version_is_kept(any_store):
    first = storage.add_project_rule(any_store, rule=DOCS, by="ann", from_approval_id=None)
    assert (first.version, first.status) == (1, "active")
    wider = {**DOCS, "paths": ["/docs/", "/notes/"]}
    second = storage.edit_project_rule(any_store, key=first.rule_key, rule=wider, by="bo")
    assert second.version == 2
    [active] = storage.active_project_rules(any_store)
    assert (active.version, active.rule["paths"], active.created_by) == (
        2,
        ["/docs/", "/notes/"],
        "bo",
    )
    mark = storage.project_rules_mark(any_store)
    storage.revoke_project_rule(any_store, key=first.rule_key, by="cy")
    assert storage.project_rules_mark(any_store) > mark
    assert storage.active_project_rules(any_store) == []
    history = storage.project_rule_history(any_store, key=first.rule_key)
    assert [(h.version, h.status, h.created_by) for h in history] == [
        (1, "active", "ann"), (2, "active", "bo"), (3, "revoked", "cy"),
    ]  # fmt: skip
    with pytest.raises(storage.StoreError, match="was revoked by cy"):
        storage.edit_project_rule(any_store, key=first.rule_key, rule=DOCS, by="dee")
    with pytest.raises(storage.NotFound, match="onloop rules list"):
        storage.revoke_project_rule(any_store, key="nope", by="dee")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE project_rules SET rule = '{}'",
        "UPDATE project_rules SET status = 'active'",
        "DELETE FROM project_rules",
    ],
)
def test_a_rule_version_cannot_be_rewritten_or_deleted(any_store, sql):
    storage.add_project_rule(any_store, rule=DOCS, by="ann")
    with pytest.raises(IntegrityError, match="append-only"), any_store.engine.begin() as conn:
        conn.execute(text(sql))
    assert storage.active_project_rules(any_store)[0].rule == DOCS


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"tool": "run_shell", "commands": ["git push"], "action": "allow"}, "needs up_to"),
        ({"tool": "*", "action": "allow", "up_to": "sometimes"}, "up_to"),
        ({"tool": "*", "action": "ask", "up_to": "write"}, "allow rules only"),
        ({"tool": "*", "action": "maybe"}, "action"),
        ({"tool": "*", "action": "deny", "paths": ["re:("]}, "not a valid regex"),
        ("allow everything", "a rule is a table"),
    ],
)
def test_a_rule_that_could_widen_or_cannot_be_read_is_refused_with_the_fix(rule, problem):
    with pytest.raises(ProjectRuleError, match=problem):
        checked_rule(rule)  # type: ignore[arg-type]


def test_stricter_rules_need_no_ceiling_and_a_deny_of_the_file_still_wins():
    assert checked_rule({"tool": "fetch_url", "action": "ask"}).action == "ask"
    rows = [storage.ProjectRule(rule_key="k", version=1, created_by="ann", rule=dict(
        tool="*", paths=["/**"], action="allow", up_to="escalation"))]  # fmt: skip
    policy = with_project_rules(SHIPPED, rows)
    assert policy.rules[-1].name == "project rule k v1 (by ann)"
    from agent_core.oversight.policy import decide

    env = decide(
        policy, tool="read_file", risk="low", arguments={"path": ".env"}, autonomy="manual"
    )
    assert env.verdict == "deny" and env.rule == "never touch secrets"


def test_the_export_reads_back_as_the_same_rules(store):
    add_rule(store, DOCS, by="ann")
    add_rule(store, {"tool": "fetch_url", "domains": ["docs.python.org"], "action": "ask",
                     "reason": 'say "why"\nfirst'}, by="bo")  # fmt: skip
    text_ = export_toml(storage.active_project_rules(store))
    parsed = parse_policy(text_, source="export")
    assert [r.model_dump(exclude_defaults=True) for r in parsed.rules] == [
        r.rule for r in storage.active_project_rules(store)
    ]


# -- applied to runs ----------------------------------------------------------------------------


def test_a_rule_added_while_a_run_waits_applies_to_its_next_call_and_a_revoke_too(store):
    model = ScriptedModel([*writes("docs/a.md", "docs/b.md", "src/x.py", "docs/c.md"), "done"])
    run = new_run(store, "write the docs", model="scripted", policy=SHIPPED, autonomy="manual")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    row = add_rule(store, DOCS, by="ann")  # while the run waits: no restart
    approve(store, approval_id=first.id, by="dan")
    second = driver.pending(after=first.id)  # docs/b.md ran unasked; src/ is not the rule's
    assert second.arguments["path"] == "src/x.py"
    storage.revoke_project_rule(store, key=row.rule_key, by="ann")
    approve(store, approval_id=second.id, by="dan")
    third = driver.pending(after=second.id)  # revoked: docs/ asks again
    assert third.arguments["path"] == "docs/c.md"
    approve(store, approval_id=third.id, by="dan")
    assert driver.join().status == "succeeded"
    calls = [e.payload for e in events_of(store, run.id, "tool_call")]
    assert [c["verdict"] for c in calls] == ["ask", "allow", "ask", "ask"]
    assert calls[1]["rule"] == f"project rule {row.rule_key} v1 (by ann)"


def test_rules_hold_across_a_reopened_store_and_another_worker(store, tmp_path):
    add_rule(store, DOCS, by="ann")
    again = storage.open_store(store.url)
    try:
        run = new_run(again, "write", model="scripted", policy=SHIPPED, autonomy="manual")
        model = ScriptedModel([*writes("docs/a.md"), "done"])
        assert Driver(again, run, model).start().join().status == "succeeded"
        [call] = [e.payload for e in events_of(again, run.id, "tool_call")]
        assert call["verdict"] == "allow" and call["rule"].startswith("project rule")
    finally:
        again.dispose()


def test_only_an_admin_makes_a_project_rule_from_an_approval(store):
    run = seed.make_run(store, status="waiting")
    asked = seed.make_approval(
        store, run, tool="run_shell", arguments={"command": "pip install requests"}
    )
    approver = Person(name="ann@x.test", role="approver", mode="oidc")
    with pytest.raises(DecisionError, match="needs the admin role"):
        approve(store, approval_id=asked.id, by=approver, allow_scope="prefix", for_project=True)
    assert storage.get_approval(store, approval_id=asked.id).status == "pending"
    with pytest.raises(DecisionError, match="wider than this exact call"):
        approve(store, approval_id=asked.id, by="root", allow_scope="call", for_project=True)
    admin = Person(name="bo@x.test", role="admin", mode="oidc")
    approve(store, approval_id=asked.id, by=admin, allow_scope="prefix", for_project=True)
    [row] = storage.active_project_rules(store)
    assert row.from_approval_id == asked.id and row.created_by == admin.label
    assert row.rule["commands"] == ["pip install"] and row.rule["up_to"] == "install"


# -- suggestions --------------------------------------------------------------------------------


def _decided(store, run, command: str, status: str = "approved", edited: dict | None = None):
    asked = seed.make_approval(store, run, tool="run_shell", arguments={"command": command})
    return storage.decide_approval(
        store,
        approval_id=asked.id,
        decision=status,
        decided_by="ann",
        edited_arguments=edited,
        approved_hash="h",
    )


def _installs(store, count: int = 6) -> list[storage.Run]:
    runs = [seed.make_run(store, status="succeeded") for _ in range(2)]
    for index in range(count):
        _decided(store, runs[index % 2], f"pip install package-{index}")
    return runs


def test_a_pattern_approved_every_time_in_two_runs_is_suggested(store):
    _installs(store)
    [found] = suggest(store)
    assert found.rule.commands == ["pip install"] and found.rule.up_to == "install"
    assert (found.approved, found.runs, found.saved_asks) == (6, 2, 6)
    assert found.label.startswith("approved 6 of 6 times in 2 runs, never edited or rejected")
    assert "`pip install *` commands" in found.label
    assert suggest(store, min_approvals=7) == []


def test_never_a_suggestion_that_would_have_allowed_a_refused_call(store):
    runs = _installs(store)
    _decided(store, runs[0], "pip install release", status="rejected")
    assert suggest(store) == []


def test_an_edited_approval_blocks_and_never_counts(store):
    runs = _installs(store)
    _decided(store, runs[1], "pip install x", edited={"command": "pip install y"})
    assert suggest(store) == []


def test_a_refused_riskier_call_does_not_block_a_capped_suggestion(store):
    runs = _installs(store)
    _decided(store, runs[0], "pip install x --basetemp=src", status="rejected")
    [found] = suggest(store)  # `pip install *` up to install never covers removing src/
    assert found.rule.up_to == "install"


def test_a_rule_already_in_the_project_is_not_suggested_again(store):
    _installs(store)
    [found] = suggest(store)
    add_rule(store, found.rule_dict(), by="ann")
    assert suggest(store) == []
