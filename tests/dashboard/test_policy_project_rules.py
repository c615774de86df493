"""The Policy page's project rules and suggestions, and the approval card's project button."""

from __future__ import annotations

import json

import pytest

import storage
from agent_core.oversight.project_rules import add_rule
from tests.support import dashboard_seed as seed
from tests.support.dashboard_fixtures import app_at

pytestmark = pytest.mark.store_for("dashboard")
DOCS = {"tool": "write_file", "paths": ["/docs/"], "action": "allow", "up_to": "write"}


@pytest.fixture(autouse=True)
def in_tmp_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_a_rule_is_listed_edited_into_a_new_version_and_revoked(store):
    row = add_rule(store, DOCS, by="ann")
    at = app_at("views/policy.py")
    assert not at.exception
    assert any(row.rule_key in e.label for e in at.expander)
    box = at.text_area(key=f"policy_project_edit_{row.rule_key}")
    box.set_value(json.dumps({**DOCS, "up_to": None})).run()
    at.button(key=f"policy_project_save_{row.rule_key}").click().run()
    assert "needs up\\_to" in at.error[0].value  # refused plainly (Markdown), nothing saved
    assert storage.active_project_rules(store)[0].version == 1
    at.text_area(key=f"policy_project_edit_{row.rule_key}").set_value(
        json.dumps({**DOCS, "paths": ["/docs/", "/notes/"]})
    ).run()
    at.button(key=f"policy_project_save_{row.rule_key}").click().run()
    [now] = storage.active_project_rules(store)
    assert (now.version, now.rule["paths"]) == (2, ["/docs/", "/notes/"])
    at.button(key=f"policy_project_revoke_{row.rule_key}").click().run()
    assert storage.active_project_rules(store) == []
    assert not at.exception


def test_a_suggestion_is_added_with_one_click(store):
    runs = [seed.make_run(store, status="succeeded") for _ in range(2)]
    for index in range(5):
        asked = seed.make_approval(
            store, runs[index % 2], tool="run_shell", arguments={"command": f"make lint -j{index}"}
        )
        storage.decide_approval(store, approval_id=asked.id, decision="approved", decided_by="a")
    at = app_at("views/policy.py")
    assert any("approved 5 of 5 times in 2 runs" in m.value for m in at.markdown)
    at.button(key="policy_suggestion_add_0").click().run()
    [row] = storage.active_project_rules(store)
    assert row.rule["commands"] == ["make lint"] and row.rule["up_to"] == "build"


def test_the_card_offers_a_project_rule_to_an_admin(store):
    run = seed.make_run(store, status="waiting")
    asked = seed.make_approval(
        store, run, tool="run_shell", arguments={"command": "pip install requests"}
    )
    at = app_at("views/approvals.py")
    key = f"inbox-approval-{asked.id}"
    at.selectbox(key=f"{key}-scope").set_value("prefix").run()
    at.button(key=f"{key}-project").click().run()
    assert storage.get_approval(store, approval_id=asked.id).status == "approved"
    [row] = storage.active_project_rules(store)
    assert row.from_approval_id == asked.id and row.rule["commands"] == ["pip install"]
