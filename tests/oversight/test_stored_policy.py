"""A run's stored policy is validated once per process and shared, never changed in place."""

from __future__ import annotations

import pydantic
import pytest

from agent_core.oversight import stored_policy as module
from agent_core.oversight.policy import Policy
from agent_core.oversight.project_rules import with_project_rules
from agent_core.oversight.stored_policy import stored_policy
from storage.models import ProjectRule

STORED = {
    "on_budget": "pause",
    "rules": [{"tool": "write_file", "action": "ask", "args": {"path": "*.md"}}],
    "monitors": {"final_check": False},
}


def test_the_same_policy_is_validated_once_whatever_its_key_order():
    first = stored_policy(STORED)
    again = stored_policy(dict(reversed(list(STORED.items()))))
    assert again is first
    assert first == Policy.model_validate(STORED)


def test_another_policy_is_another_object():
    other = {**STORED, "on_budget": "halt"}
    assert stored_policy(other) is not stored_policy(STORED)
    assert stored_policy(other).on_budget == "halt"
    assert stored_policy(None) is stored_policy({})


def test_an_invalid_policy_is_refused_every_time_and_never_kept():
    bad = {"on_budget": "reckless"}
    for _ in range(2):
        with pytest.raises(pydantic.ValidationError):
            stored_policy(bad)


def test_only_the_newest_policies_are_kept(monkeypatch):
    monkeypatch.setattr(module, "_KEPT", 3)
    oldest = stored_policy({**STORED, "on_budget": "fail"})
    for n in range(3):
        stored_policy({**STORED, "rules": [{"tool": f"tool_{n}", "action": "deny"}]})
    assert len(module._validated) == 3
    assert stored_policy({**STORED, "on_budget": "fail"}) is not oldest


def test_project_rules_make_a_copy_and_leave_the_shared_policy_alone():
    shared = stored_policy(STORED)
    rules_before = list(shared.rules)
    row = ProjectRule(
        id=7, rule_key="k1", version=1, rule={"tool": "shell", "action": "deny"}, created_by="ana"
    )
    extended = with_project_rules(shared, [row])
    assert extended is not shared and len(extended.rules) == len(rules_before) + 1
    assert shared.rules == rules_before and stored_policy(STORED) is shared
