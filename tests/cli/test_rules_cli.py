"""`onloop rules` and `onloop approve --project`: project rules from the command line."""

from __future__ import annotations

import subprocess
import sys

import storage
from agent_core.oversight.policy_file import parse_policy
from agent_core.oversight.project_rules import add_rule
from tests.support import dashboard_seed as seed


def onloop(*args: str, db: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args, "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_list_history_export_and_revoke(store, tmp_path):
    db = store.url
    empty = onloop("rules", "list", db=db, cwd=tmp_path)
    assert empty.returncode == 0 and "no project rules" in empty.stdout
    row = add_rule(
        store,
        {"tool": "write_file", "paths": ["/docs/"], "action": "allow", "up_to": "write"},
        by="ann\x1b[2J",
    )
    listed = onloop("rules", "list", db=db, cwd=tmp_path).stdout
    assert f"{row.rule_key} v1  allow up to write: write_file paths ~ /docs/" in listed
    assert "\x1b" not in listed  # the name is shown, never obeyed
    exported = onloop("rules", "export", db=db, cwd=tmp_path).stdout
    assert parse_policy(exported, source="export").rules[0].paths == ["/docs/"]
    revoked = onloop("rules", "revoke", row.rule_key, db=db, cwd=tmp_path)
    assert revoked.returncode == 0 and "version 2" in revoked.stdout
    history = onloop("rules", "history", row.rule_key, db=db, cwd=tmp_path).stdout
    assert "[active]" in history and "[revoked]" in history
    again = onloop("rules", "revoke", row.rule_key, db=db, cwd=tmp_path)
    assert again.returncode == 2 and "was revoked" in again.stderr
    assert "Traceback" not in again.stderr
    missing = onloop("rules", "history", "nope", db=db, cwd=tmp_path)
    assert missing.returncode == 2 and "onloop rules list" in missing.stderr


def test_suggest_lists_and_adds(store, tmp_path):
    runs = [seed.make_run(store, status="succeeded") for _ in range(2)]
    for index in range(5):
        asked = seed.make_approval(
            store, runs[index % 2], tool="fetch_url", arguments={"url": f"https://pypi.org/{index}"}
        )
        storage.decide_approval(store, approval_id=asked.id, decision="approved", decided_by="a")
    shown = onloop("rules", "suggest", db=store.url, cwd=tmp_path)
    assert "1. approved 5 of 5 times in 2 runs" in shown.stdout and "pypi.org" in shown.stdout
    bad = onloop("rules", "suggest", "--add", "9", db=store.url, cwd=tmp_path)
    assert bad.returncode == 2 and "no suggestion 9" in bad.stderr
    added = onloop("rules", "suggest", "--add", "1", db=store.url, cwd=tmp_path)
    assert added.returncode == 0 and "added project rule" in added.stdout
    [row] = storage.active_project_rules(store)
    assert row.rule["domains"] == ["pypi.org"] and row.rule["up_to"] == "network"


def test_approve_with_a_project_scope(store, tmp_path):
    run = seed.make_run(store, status="waiting")
    seed.make_approval(store, run, tool="run_shell", arguments={"command": "pip install x"})
    done = onloop("approve", run.id, "--allow", "prefix", "--project", db=store.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [row] = storage.active_project_rules(store)
    assert row.rule["commands"] == ["pip install"]
    assert row.rule["name"].startswith("allowed in this project: `pip install *` commands")
