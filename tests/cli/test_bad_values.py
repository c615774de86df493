"""Values a careless hand types get one line naming the fix, exit code 2, and leave the store as
it was: numbers (NaN, infinity, 20 digits, zero, negative) no traceback and no worker that never
wakes; ids too short to be a prefix, approvals that are not there, no command that does not exist."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage
from agent_core.oversight import control
from tests.cli.test_commands import onloop
from tests.support.run_helpers import new_run, wait_for

HUGE = "99999999999999999999"


@pytest.fixture
def halted_run(tmp_path) -> tuple[str, str]:
    """A store holding one halted run (resumable): its file and the run's id."""
    db = str(tmp_path / "s.db")
    store = storage.open_store(db)
    run = new_run(store, "What is 17.5% of 2,340, plus 118?")
    control.halt(store, run_id=run.id, by="ann")
    store.engine.dispose()
    return db, run.id


def _rows(db: str) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        tables = ("runs", "events", "commands", "approvals")
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)


def _run_of(db: str, run_id: str) -> tuple:
    with sqlite3.connect(db) as conn:
        query = "SELECT status, max_steps, max_seconds FROM runs WHERE id = ?"
        return conn.execute(query, (run_id,)).fetchone()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Each of these printed a traceback (OverflowError, IntegrityError) before.
        (
            ("run", "x", "--max-steps", HUGE),
            f"--max-steps must be from 1 up to 1,000,000, not {HUGE}",
        ),
        (
            ("run", "x", "--max-minutes", "nan"),
            "--max-minutes must be above 0 up to 525,600, not nan",
        ),
        (("runs", "--limit", HUGE), f"--limit must be from 1 up to 1,000,000, not {HUGE}"),
        (("up", "--port", "-1"), "--port must be from 1 up to 65,535, not -1"),
        # These started and never said they had a wrong number: a worker whose lease timer
        # overflowed, a dashboard on port 0 reported as not starting 20 s later, "no runs yet".
        (("worker", "--lease-seconds", "inf"), "--lease-seconds must be above 0 up to 86,400"),
        (("up", "--port", "0"), "--port must be from 1 up to 65,535, not 0"),
        (("worker", "--processes", HUGE), f"--processes must be at most 256, not {HUGE}"),
        (("worker", "--concurrency", HUGE), "--concurrency must be from 1 up to 10,000"),
        (("runs", "--limit", "0"), "--limit must be from 1 up to 1,000,000, not 0"),
        (("run", "x", "--request-timeout", "nan"), "--request-timeout must be above 0 up to"),
    ],
)
def test_a_number_out_of_range_is_refused_naming_the_range(halted_run, tmp_path, args, expected):
    db, _ = halted_run
    before = _rows(db)
    done = onloop(*args, "--db", db, cwd=tmp_path, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"error: {expected}" or expected in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert _rows(db) == before


@pytest.mark.parametrize(
    "args", [("--more-steps", "-5"), ("--more-minutes", "nan"), ("--more-minutes", "inf")]
)
def test_resume_refuses_a_budget_it_would_shrink_or_break(halted_run, tmp_path, args):
    """`--more-steps -5` queued the run with a smaller budget than it had; NaN stored NaN."""
    db, run_id = halted_run
    before, run_before = _rows(db), _run_of(db, run_id)
    done = onloop("resume", run_id, *args, "--no-wait", "--db", db, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {args[0]} must be from 0 up to"), done.stderr
    assert _rows(db) == before and _run_of(db, run_id) == run_before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # `onloop runs` shows 12 characters; "no run with id 69" hid that a prefix needs 4.
        (("show", "69"), "no run with id '69'; give at least 4 characters of a run's id"),
        (("halt", ""), "no run with id ''; give at least 4 characters of a run's id"),
        # `--run "$RUN"` with RUN unset printed every run's decisions, exit code 0.
        (("audit", "--run", ""), "no run with id ''; give at least 4 characters of a run's id"),
        # It named `onloop approvals`, a command that does not exist.
        (("revoke", "{run}", "999"), "no approval with id 999; `onloop show RUN_ID` names"),
    ],
)
def test_an_id_that_names_nothing_says_where_the_ids_are(halted_run, tmp_path, args, expected):
    db, run_id = halted_run
    before = _rows(db)
    done = onloop(*(a.format(run=run_id) for a in args), "--db", db, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {expected}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "approvals` lists" not in done.stderr
    assert _rows(db) == before


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """The file made read-only for this user: immutable for root, whom modes do not stop."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        return
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("args", [("resume", "{run}", "--no-wait"), ("run", "x", "--yes")])
def test_a_read_only_store_is_read_and_refuses_writes_in_one_line(halted_run, tmp_path, args):
    """A store the user may read but not write: `runs` reads it; a write printed SQLAlchemy's
    traceback ("attempt to write a readonly database") and exit code 1."""
    db, run_id = halted_run
    before = _rows(db)
    with _read_only(Path(db)):
        listed = onloop("runs", "--db", db, cwd=tmp_path)
        done = onloop(*(a.format(run=run_id) for a in args), "--db", db, cwd=tmp_path)
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: the store is read-only ("), done.stderr
    assert "nothing was written" in done.stderr and "pass --db" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _rows(db) == before and not (tmp_path / "onloop-workspaces").exists()


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        # SQLAlchemy's words: "Can't load plugin: sqlalchemy.dialects:foo".
        ("foo://bar/baz", "no database speaks foo://; use a SQLite file or postgresql://"),
        # psycopg's message runs over two lines: it was shown as "refused\x0a\x09Is the server".
        ("postgresql://u:p@127.0.0.1:1/db", "Connection refused Is the server running"),
    ],
)
def test_a_database_url_that_cannot_serve_says_why_on_one_line(tmp_path, db, expected):
    done = onloop("runs", "--db", db, cwd=tmp_path)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "\\x0a" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "u:p@" not in done.stderr and not list(tmp_path.iterdir())


def test_approving_twice_says_the_approval_was_decided(tmp_path):
    """Two people approve one waiting run whose driver has not moved on (here: it was killed).
    The second was told "run X is waiting and is not waiting for approval"."""
    db = str(tmp_path / "s.db")
    goal = "Clean up the temporary files in the workspace"
    driver = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "run", goal, "--db", db],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "ONLOOP_DEMO_DELAY": "0"},
    )
    try:
        store = storage.open_store(db)
        wait_for(lambda: storage.count_pending_approvals(store), timeout=30, what="an approval")
    finally:
        driver.kill()
        driver.wait()
    run_id = storage.list_runs(store)[0].id
    store.dispose()
    assert onloop("approve", run_id, "--db", db, cwd=tmp_path).returncode == 0
    before = _rows(db)
    again = onloop("approve", run_id, "--db", db, cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.startswith(
        f"error: run {run_id} has no pending approval: the one it waits on was decided already"
    ), again.stderr
    assert _rows(db) == before


def test_run_refuses_a_workspace_root_it_cannot_write_before_recording_a_run(halted_run, tmp_path):
    """ONLOOP_WORKSPACES naming a file: the run was recorded, failed at once ("[Errno 20] Not a
    directory") and offered `onloop resume`, which fails the same way."""
    db, _ = halted_run
    (tmp_path / "a-file").write_text("not a folder")
    before = _rows(db)
    env = {"ONLOOP_WORKSPACES": str(tmp_path / "a-file")}
    done = onloop("run", "What is 17.5% of 2,340, plus 118?", "--db", db, cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: cannot make run folders in {tmp_path / 'a-file'}: ")
    assert "set ONLOOP_WORKSPACES to a folder you can write" in done.stderr
    assert _rows(db) == before


def test_a_worker_says_at_start_that_its_workspace_root_cannot_take_run_folders(
    halted_run, tmp_path
):
    """It started without a word, and every run it claimed without a folder of its own failed
    as it started. It still starts (runs with their own folder run; `up` shows the history)."""
    db, _ = halted_run
    (tmp_path / "a-file").write_text("not a folder")
    env = {
        **os.environ,
        "ONLOOP_WORKSPACES": str(tmp_path / "a-file"),
        "ONLOOP_DEMO_DELAY": "0",
    }
    env.pop("ONLOOP_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "worker", "--db", db],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    stopper = threading.Timer(60, worker.kill)  # no line at all: the read ends, the test fails
    stopper.start()
    try:
        assert worker.stderr is not None
        line = worker.stderr.readline()
    finally:
        stopper.cancel()
        worker.terminate()
        worker.wait(30)
    assert line.startswith(f"warning: cannot make run folders in {tmp_path / 'a-file'}: "), line
    assert "set ONLOOP_WORKSPACES to a folder you can write" in line
    assert "runs that need a fresh folder fail as they start" in line


def test_policy_init_never_writes_over_a_store(halted_run, tmp_path):
    """`onloop policy init onloop.db`, then --force as the refusal suggested: every run was gone."""
    db, _ = halted_run
    before = _rows(db)
    done = onloop("policy", "init", db, "--force", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert (
        done.stderr == f"error: {db} is a SQLite database, not a policy file; choose another path\n"
    )
    assert _rows(db) == before


def test_up_on_a_host_that_is_no_address_says_so(halted_run, tmp_path):
    """It said "port 8765 on 192.0.2.1 is in use; pick another with --port". (TEST-NET-1,
    reserved for documentation: never this machine's address, never looked up.)"""
    db, _ = halted_run
    host = "192.0.2.1"
    done = onloop(
        "up", "--host", host, "--insecure-no-auth", "--port", "8765", "--db", db, cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: cannot serve on {host}: "), done.stderr
    assert "pass --host an address of this machine" in done.stderr and "in use" not in done.stderr
    assert not Path(db + ".up.lock").exists()


def test_guidance_longer_than_a_goal_is_refused_before_anything_moves(halted_run, tmp_path):
    """Guidance was unlimited (120,000 characters went to the model at every later step) while a
    goal stops at 8,000; a resume with it must not requeue the run and then refuse the words."""
    db, run_id = halted_run
    long_text = "steer " * 1400  # 8,400 characters
    store = storage.open_store(db)
    running = new_run(store, "another run, still queued")
    store.engine.dispose()
    before, halted_before = _rows(db), _run_of(db, run_id)
    for args in (
        ("guide", running.id, long_text),
        ("resume", run_id, "--guidance", long_text, "--no-wait"),
    ):
        done = onloop(*args, "--db", db, cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "the guidance is 8,399 characters; the limit is 8,000" in done.stderr, done.stderr
    assert _rows(db) == before and _run_of(db, run_id) == halted_before


@pytest.mark.parametrize("tools", [",", "", " , "])
def test_tools_that_name_no_tool_are_refused_before_a_run_is_recorded(halted_run, tmp_path, tools):
    """`--tools ,` started a run with no tools at all (the model could only talk)."""
    db, _ = halted_run
    before = _rows(db)
    done = onloop("run", "What is 2+2?", "--tools", tools, "--db", db, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: --tools names no tool;"), done.stderr
    assert _rows(db) == before
