"""The Run page's Changes view on a REAL run: the worker drives a run against the local fake
OpenAI server; the run writes, rewrites and deletes files (hostile names and content included),
and the view lists each file with a correct unified diff, every byte of it inert."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import storage
from agent_core.oversight import decisions
from agent_core.oversight.monitor_settings import MonitorSettings
from agent_core.oversight.policy import Policy
from agent_core.oversight.workspace_changes import workspace_changes
from tests.support.dashboard_fixtures import app_at, open_store
from tests.support.run_helpers import Driver, new_run

HOSTILE_NAME = "![x](http:evil.invalid)<b>.md"
HOSTILE_BODY = "ok\n![pixel](http://evil.invalid/p.png) <img src=x onerror=alert(1)>\n\x1b[31mred\n"
SCRIPT = [
    {
        "tool_calls": [
            {"name": "write_file", "arguments": {"path": "notes.md", "content": "a\nb\n"}}
        ]
    },
    {
        "tool_calls": [
            {"name": "write_file", "arguments": {"path": "notes.md", "content": "a\nB\nc\n"}}
        ]
    },
    {
        "tool_calls": [
            {"name": "write_file", "arguments": {"path": HOSTILE_NAME, "content": HOSTILE_BODY}}
        ]
    },
    {
        "tool_calls": [
            {
                "name": "run_shell",
                "arguments": {"command": "printf 'x\\0y' > blob.bin && echo hi > hi.txt"},
            }
        ]
    },
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "gone.tmp", "content": "tmp\n"}}]},
    {"tool_calls": [{"name": "delete_files", "arguments": {"paths": ["gone.tmp"]}}]},
    "Done.",
]


@pytest.fixture
def store(tmp_path, monkeypatch):
    yield from open_store(tmp_path, monkeypatch)


@pytest.fixture
def real_run(store, fake_openai, monkeypatch):
    """A finished run the real worker code drove, each approval granted as it came."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    fake_openai.script(list(SCRIPT))
    policy = Policy(monitors=MonitorSettings(judge_every=0))
    run = new_run(
        store,
        "write notes",
        model="openai",
        model_name="gpt-4o-mini",
        autonomy="autonomous",
        policy=policy,
    )
    driver = Driver(store, run).start()
    done = threading.Event()

    def approve() -> None:
        while not done.is_set():
            for approval in storage.pending_approvals(store, run_id=run.id):
                decisions.approve(store, approval_id=approval.id, by="tester")
            time.sleep(0.02)

    threading.Thread(target=approve, daemon=True).start()
    outcome = driver.join(timeout=60)
    done.set()
    assert outcome.status == "succeeded", outcome.reason
    return storage.get_run(store, run_id=run.id)


def test_the_changes_of_a_real_run_with_their_diffs(store, real_run):
    found = {
        c.path: c
        for c in workspace_changes(
            storage.events_after(store, run_id=real_run.id), workspace=Path(real_run.workspace)
        )
    }
    assert list(found) == ["notes.md", HOSTILE_NAME, "blob.bin", "hi.txt", "gone.tmp"]
    notes = found["notes.md"]
    assert notes.change == "created" and notes.calls[0].startswith("write_file #")
    assert notes.diff == "--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1,3 @@\n+a\n+B\n+c\n"
    assert found["hi.txt"].diff.endswith("+hi\n")  # a shell line's write, read from the folder
    assert found["blob.bin"].change == "created" and not found["blob.bin"].diff
    assert "binary now (3 bytes): not compared" in found["blob.bin"].notes
    assert found["gone.tmp"].change == "deleted"
    assert "created and deleted by this run" in found["gone.tmp"].notes


def test_a_change_is_a_diff_against_what_the_run_read_first(store, real_run):
    events = storage.events_after(store, run_id=real_run.id)
    read = storage.EventRecord(
        real_run.id,
        0,
        "tool_result",
        events[0].at,
        {
            "tool_call_id": "r0",
            "tool": "read_file",
            "ok": True,
            "outcome": "ok",
            "output": "a\nb\n",
            "arguments": {"path": "notes.md"},
        },
    )
    found = {c.path: c for c in workspace_changes([read, *events], workspace=None)}
    notes = found["notes.md"]
    assert notes.change == "changed"
    assert notes.diff == "--- a/notes.md\n+++ b/notes.md\n@@ -1,2 +1,3 @@\n a\n-b\n+B\n+c\n"
    hi = found["hi.txt"]  # the workspace is gone: a command's write has no known content
    assert hi.change == "created" and not hi.diff  # new in an empty workspace; content unknown
    assert any("workspace is gone" in n for n in hi.notes)


def test_the_changes_view_shows_every_file_inert(store, real_run):
    at = app_at("views/run.py", query={"run": real_run.id})
    at.segmented_control(key=f"run_view_pick_{real_run.id}").set_value("changes").run()
    assert not at.exception
    codes = [c.value for c in at.code]
    assert any(c.startswith("--- /dev/null\n+++ b/notes.md") for c in codes)
    hostile = next(c for c in codes if "evil.invalid/p.png" in c)
    assert "\x1b" not in hostile and "\\x1b[31mred" in hostile  # the escape shows, never acts
    drawn = [e.value for e in (*at.markdown, *at.caption, *at.info)]
    assert any("notes.md" in m and "created" in m for m in drawn)
    assert not [m for m in drawn if "![" in m or "<img" in m or "<b>" in m or "](http" in m]
    assert any("evil.invalid" in m for m in drawn)  # the hostile name is listed, defanged
    assert any("1 deleted" in m for m in drawn)


def test_a_run_that_wrote_nothing_says_so(store):
    run = storage.create_run(store, goal="think only")
    at = app_at("views/run.py", query={"run": run.id})
    at.segmented_control(key=f"run_view_pick_{run.id}").set_value("changes").run()
    assert "No files created, changed or deleted" in at.info[0].value
