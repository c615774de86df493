"""Who may approve an edited call: the role the edited call needs, not the original's.

An approver who edits a call into one the policy flags more strongly than what the agent asked
for (an ask rule instead of the tool's risk, an unreadable shell command) writes the riskier call
themselves and approves it too: that needs an admin. An ask rule may also name `approve_role =
"admin"` for what it asks about, edited or not, and a run's allowance never lifts it.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import storage
from agent_core.oversight.decisions import DecisionError, approve, review_of
from agent_core.oversight.policy import Policy, Rule
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.oversight.signin_roles import Person
from tests.support.dashboard_seed import make_approval
from tests.support.run_helpers import new_run

DEFAULT = parse_policy(default_policy_text(), source="defaults")
DOCS = Rule(tool="*", paths=["docs/"], action="ask", name="docs are reviewed")
APPROVER = Person(name="april@example.test", role="approver", mode="oidc", subject="sub-april")
ADMIN = Person(name="ada@admin.test", role="admin", mode="oidc", subject="sub-ada")
OPERATOR = Person(name="otto@ops.test", role="operator", mode="oidc", subject="sub-otto")

WRITE = ("write_file", {"path": "notes.txt", "content": "hello"}, "medium")
SHELL = ("run_shell", {"command": "ls"}, "high")
READ = ("read_file", {"path": "notes.txt"}, "low")


def deploys() -> Rule:
    return Rule(tool="*", paths=["deploy/"], action="ask", name="deploys", approve_role="admin")


def asked(store, tmp_path, call, *, policy: Policy, autonomy: str = "supervised"):
    tool, arguments, risk = call
    folder = tmp_path / "ws"
    folder.mkdir(exist_ok=True)
    run = new_run(
        store, "roles", policy=policy, workspace=str(folder), model="scripted", autonomy=autonomy
    )
    return make_approval(store, run, tool=tool, arguments=arguments, risk=risk, summary=tool)


ESCALATIONS = [
    # (call asked for, autonomy, edited arguments): the edit is flagged more strongly
    (WRITE, "supervised", {"path": "docs/guide.md", "content": "x"}),
    (WRITE, "supervised", {"path": "./docs//guide.md", "content": "x"}),
    (READ, "manual", {"path": "docs/guide.md"}),
    (SHELL, "supervised", {"command": "echo x > docs/guide.md"}),
    (SHELL, "supervised", {"command": 'eval "$PAYLOAD"'}),  # cannot be read: asks
    (SHELL, "supervised", {"command": "curl http://127.0.0.1:9/x | sh"}),
]


@pytest.mark.parametrize(("call", "autonomy", "edited"), ESCALATIONS)
def test_an_edit_flagged_more_strongly_needs_an_admin(store, tmp_path, call, autonomy, edited):
    policy = Policy(rules=[*DEFAULT.rules, DOCS])
    approval = asked(store, tmp_path, call, policy=policy, autonomy=autonomy)
    with pytest.raises(DecisionError) as refused:
        approve(store, approval_id=approval.id, by=APPROVER, edited_arguments=edited)
    message = str(refused.value)
    assert "needs the admin role" in message and "more strongly" in message, message
    assert "you have the approver role" in message
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    done = approve(store, approval_id=approval.id, by=ADMIN, edited_arguments=edited)
    assert done.status == "approved" and done.decided_by == ADMIN.label


def test_an_edit_into_an_admin_rule_needs_an_admin(store, tmp_path):
    policy = Policy(rules=[*DEFAULT.rules, deploys()])
    approval = asked(store, tmp_path, WRITE, policy=policy)
    edited = {"path": "deploy/app.cfg", "content": "x"}
    with pytest.raises(DecisionError, match=r"needs the admin role .*deploys"):
        approve(store, approval_id=approval.id, by=APPROVER, edited_arguments=edited)
    assert approve(
        store, approval_id=approval.id, by=ADMIN, edited_arguments=edited
    ).edited_arguments


def test_the_call_as_asked_under_an_admin_rule_needs_an_admin_too(store, tmp_path):
    policy = Policy(rules=[*DEFAULT.rules, deploys()])
    call = ("write_file", {"path": "deploy/app.cfg", "content": "x"}, "medium")
    approval = asked(store, tmp_path, call, policy=policy)
    with pytest.raises(DecisionError, match="needs the admin role"):
        approve(store, approval_id=approval.id, by=APPROVER)
    with pytest.raises(DecisionError, match="needs the approver role"):
        approve(store, approval_id=approval.id, by=OPERATOR)
    assert approve(store, approval_id=approval.id, by=ADMIN).status == "approved"


def test_an_edit_that_lowers_the_stakes_is_the_approvers_to_make(store, tmp_path):
    policy = Policy(rules=[*DEFAULT.rules, DOCS])
    call = ("write_file", {"path": "docs/guide.md", "content": "x"}, "medium")
    approval = asked(store, tmp_path, call, policy=policy)
    edited = {"path": "notes.md", "content": "x"}
    done = approve(store, approval_id=approval.id, by=APPROVER, edited_arguments=edited)
    assert done.edited_arguments == edited


def test_an_edit_the_same_strength_stays_with_the_approver(store, tmp_path):
    approval = asked(store, tmp_path, WRITE, policy=Policy(rules=[*DEFAULT.rules, DOCS]))
    edited = {"path": "report.md", "content": "fine"}
    done = approve(store, approval_id=approval.id, by=APPROVER, edited_arguments=edited)
    assert done.status == "approved"


def test_the_review_names_the_changes_and_the_new_verdict(store, tmp_path):
    policy = Policy(rules=[*DEFAULT.rules, DOCS])
    approval = asked(store, tmp_path, WRITE, policy=policy)
    review = review_of(store, approval, {"path": "docs/\x1b[2Jx.md", "content": "hello"})
    assert review.changes == ('path: "notes.txt" → "docs/\\u001b[2Jx.md"',)
    assert review.decision.verdict == "ask" and review.decision.rule == "docs are reviewed"
    assert review.role == "admin" and review.escalates
    assert "\x1b" not in review.summary()  # a terminal never receives the escape


def test_approve_role_belongs_on_ask_rules_only():
    with pytest.raises(ValidationError, match="ask rules only"):
        Rule(tool="*", paths=["x"], action="allow", approve_role="admin")
    with pytest.raises(ValidationError):
        Rule(tool="*", paths=["x"], action="ask", approve_role="operator")  # type: ignore[arg-type]
