"""The command line as a user runs it: a real process, exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import storage


def onloop(*args: str, cwd, stdin: str = "", env: dict | None = None, timeout: float = 60):
    full_env = {**os.environ, "ONLOOP_DEMO_DELAY": "0", **(env or {})}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL"):
        if not env or name not in env:
            full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def test_run_prints_steps_and_exits_zero_on_success(tmp_path):
    done = onloop("run", "What is 17.5% of 2,340, plus 118?", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "demo model" in done.stdout and "calculator" in done.stdout
    assert "527.5" in done.stdout and "succeeded" in done.stdout
    assert (tmp_path / "onloop.db").exists()


def test_run_json_and_yes_approves_everything(tmp_path):
    done = onloop(
        "run",
        "Extract the totals of the sample invoices into invoices.csv",
        "--yes",
        "--autonomy",
        "manual",  # under supervised, writing the CSV in its own workspace asks nobody
        "--json",
        "--db",
        str(tmp_path / "x.db"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "succeeded" and "2569.89" in run["result"]
    kinds = [e["kind"] for e in run["events"]]
    assert "approval_requested" in kinds and "approval_decided" in kinds
    decided = next(e for e in run["events"] if e["kind"] == "approval_decided")
    assert decided["payload"]["decided_by"].endswith("(--yes)")


def test_terminal_rejection_with_a_note(tmp_path):
    # stdin is not a terminal here, so the run waits for a decision from elsewhere: give it one.
    db = tmp_path / "onloop.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent_core",
            "run",
            "Clean up the temporary files in the workspace",
            "--db",
            str(db),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "ONLOOP_DEMO_DELAY": "0"},
    )
    try:
        store = storage.open_store(str(db))
        from tests.support.run_helpers import wait_for

        wait_for(lambda: storage.count_pending_approvals(store), timeout=30, what="an approval")
        run_id = storage.list_runs(store)[0].id
        rejected = onloop(
            "reject", run_id, "--note", "keep cache.tmp", "--db", str(db), cwd=tmp_path
        )
        assert rejected.returncode == 0 and "rejected" in rejected.stdout
        wait_for(lambda: storage.count_pending_approvals(store), timeout=30, what="a retry")
        approved = onloop("approve", run_id, "--db", str(db), cwd=tmp_path)
        assert approved.returncode == 0, approved.stderr
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "waiting for a decision" in out and "succeeded" in out
    assert (tmp_path / "onloop-workspaces" / run_id / "cache.tmp").exists()
    assert not (tmp_path / "onloop-workspaces" / run_id / "build.tmp").exists()
    audit = onloop("audit", "--run", run_id, "--json", "--db", str(db), cwd=tmp_path)
    rows = json.loads(audit.stdout)
    assert [r["status"] for r in rows] == ["approved", "rejected"]
    assert rows[1]["note"] == "keep cache.tmp"
    store.dispose()


def test_failed_run_exits_non_zero_and_show_lists_events(tmp_path):
    done = onloop(
        "run",
        "Wait until the build passes, then report the build status",
        "--autonomy",
        "autonomous",
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "paused" in done.stdout and "onloop resume" in done.stdout
    listed = onloop("runs", "--json", cwd=tmp_path)
    run_id = json.loads(listed.stdout)[0]["id"]
    shown = onloop("show", run_id[:6], cwd=tmp_path)
    assert shown.returncode == 0 and "drift (repetition)" in shown.stdout
    halted = onloop("halt", run_id, cwd=tmp_path)
    assert halted.returncode == 0 and "halt" in halted.stdout
    assert json.loads(onloop("show", run_id, "--json", cwd=tmp_path).stdout)["status"] == "halted"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "   "), "the goal is empty"),
        (("run", "x", "--model", "gpt"), "unknown model 'gpt'"),
        (("run", "x", "--model", "openai"), "needs OPENAI_API_KEY"),
        (("run", "x", "--autonomy", "yolo"), "unknown autonomy 'yolo'"),
        (("run", "x", "--tools", "calculator,teleport"), "unknown tools: teleport"),
        (("run", "x", "--max-steps", "0"), "budgets must be positive"),
        (("show", "nosuchrun"), "no onloop store at"),  # read-only: never creates one
        # Steering and deciding act on runs a store holds: they never create one either (an
        # `onloop halt` in the wrong folder left an empty onloop.db there, saying "no run").
        (("approve", "nosuchrun"), "no onloop store at"),
        (("halt", "nosuchrun"), "no onloop store at"),
        (("resume", "nosuchrun", "--no-wait"), "no onloop store at"),
        (("runs", "--status", "sleepy"), "unknown status 'sleepy'"),
        (("runs", "--db", "/proc/no/such/dir/x.db"), "no onloop store at /proc/no/such/dir/x.db"),
        (("audit", "--db", "absent.db"), "no onloop store at"),
        (("run", "x", "--policy", "missing.toml"), "cannot read policy file"),
    ],
)
def test_bad_input_gets_one_line_naming_the_fix(tmp_path, args, expected):
    done = onloop(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr
    if args[0] in ("show", "runs", "audit", "approve", "halt", "resume"):
        assert not list(tmp_path.iterdir())
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_approve_a_run_that_is_not_waiting(tmp_path):
    onloop("run", "What is 17.5% of 2,340, plus 118?", cwd=tmp_path)
    run_id = json.loads(onloop("runs", "--json", cwd=tmp_path).stdout)[0]["id"]
    done = onloop("approve", run_id, cwd=tmp_path)
    assert done.returncode == 2 and "is not waiting for approval" in done.stderr
    resumed = onloop("resume", run_id, cwd=tmp_path)
    assert (
        resumed.returncode == 2 and "only paused, interrupted, halted or failed" in resumed.stderr
    )


def test_malformed_policy_is_refused_with_the_line(tmp_path):
    (tmp_path / "onloop.toml").write_text('[[rules]]\ntool = "x"\naction = "perhaps"\n')
    done = onloop("run", "What is 2+2?", cwd=tmp_path)
    assert done.returncode == 2
    assert "onloop.toml, line 3" in done.stderr and "action" in done.stderr
    assert not (tmp_path / "onloop.db").exists() or "run " not in done.stdout


def test_policy_check_prints_the_verdict_and_the_rule(tmp_path):
    done = onloop("policy", "check", "read_file", '{"path": "./.env/."}', cwd=tmp_path)
    assert done.returncode == 0
    assert "verdict: deny" in done.stdout and "never touch secrets" in done.stdout
    assert "note:    checked without a run's workspace" in done.stdout
    asked = onloop(
        "policy",
        "check",
        "delete_files",
        '{"paths": ["a.tmp", "b.tmp", "c.tmp", "d.tmp"]}',
        "--autonomy",
        "autonomous",
        cwd=tmp_path,
    )
    assert "verdict: ask" in asked.stdout and "delete 4 files: a.tmp, b.tmp" in asked.stdout
    assert "class:   destructive: deletes 4 files at once" in asked.stdout
    for args, expected in [
        (("nope",), "unknown tool 'nope'"),
        (("read_file", "[1]"), "must be a JSON object"),
        (("read_file", "{}"), "'path' is required"),
    ]:
        bad = onloop("policy", "check", *args, cwd=tmp_path)
        assert bad.returncode == 2 and expected in bad.stderr and "Traceback" not in bad.stderr


def test_policy_init_writes_the_default_file_once(tmp_path):
    assert onloop("policy", "init", cwd=tmp_path).returncode == 0
    assert "[[rules]]" in (tmp_path / "onloop.toml").read_text()
    again = onloop("policy", "init", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    shown = onloop("policy", "show", cwd=tmp_path)
    assert "onloop.toml" in shown.stdout and "never touch secrets" in shown.stdout


def test_resume_with_guidance_while_a_worker_is_running(tmp_path):
    drift = "Wait until the build passes, then report the build status"
    assert onloop("run", drift, "--autonomy", "autonomous", cwd=tmp_path).returncode == 1
    run_id = json.loads(onloop("runs", "--json", cwd=tmp_path).stdout)[0]["id"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "worker", "--db", str(tmp_path / "onloop.db")],
        cwd=tmp_path,
        env={**os.environ, "ONLOOP_DEMO_DELAY": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        resumed = onloop("resume", run_id, "--guidance", "stop checking and report", cwd=tmp_path)
    finally:
        worker.send_signal(2)
        worker.wait(20)
    # It stops as told, but it never saw the build pass: finished, goal not met (exit 1).
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert "unmet" in resumed.stdout and "goal NOT met" in resumed.stdout
    shown = json.loads(onloop("show", run_id, "--json", cwd=tmp_path).stdout)
    assert shown["status"] == "unmet"
    assert any(e["kind"] == "guidance" for e in shown["events"])


def test_approving_an_expired_approval_is_refused_in_one_line(tmp_path):
    from datetime import timedelta

    from tests.support.dashboard_seed import make_approval

    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    run = storage.create_run(store, goal="delete the temporary files")
    approval = make_approval(store, run)
    table = storage.Approval.__table__
    past = storage.utcnow() - timedelta(minutes=5)
    with store.engine.begin() as conn:
        conn.execute(table.update().where(table.c.id == approval.id).values(expires_at=past))
    store.dispose()
    done = onloop("approve", run.id, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2 and "expired" in done.stderr, done.stderr
    assert "can no longer be decided" in done.stderr and "Traceback" not in done.stderr
    store = storage.open_store(str(db))
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    store.dispose()
