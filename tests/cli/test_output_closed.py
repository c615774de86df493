"""A standard output that is closed, full or goes away mid-run: one line on stderr, an exit
code that is not 0, and no run left "running" with nobody driving it.

Before: `onloop runs >&-` printed nothing and exited 0; `> /dev/full` printed a traceback;
`onloop run ... | head -1` died at once and its run stayed "running" forever (claimed by a
process that was gone); with descriptor 1 closed, the store's database took descriptor 1 and a
tool's child process printing to its inherited stdout wrote into the database file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_commands import onloop

GOAL = "What is 17.5% of 2,340, plus 118?"
LONG_GOAL = "Summarise the files in the workspace into report.md"


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0", **extra}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL"):
        env.pop(name, None)
    return env


def _onloop(*args: str, cwd: Path, stdout, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        timeout=60,
        preexec_fn=preexec_fn,
    )


def _closed_stdout(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`onloop ARGS >&-`: the process starts with descriptor 1 closed (DEVNULL, then closed in
    the child before it execs)."""
    return _onloop(*args, cwd=cwd, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))


def _full_stdout(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`onloop ARGS > /dev/full`: every write fails with ENOSPC."""
    with open("/dev/full", "w") as full:
        return _onloop(*args, cwd=cwd, stdout=full)


def _statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM runs ORDER BY created_at")]


@pytest.fixture
def store_folder(tmp_path) -> Path:
    """A folder whose onloop.db holds one finished run."""
    done = onloop("run", GOAL, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def _statuses_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM runs")]


@pytest.mark.parametrize(
    "args", [("runs",), ("show",), ("audit",), ("insights",), ("--help",), ("--version",)]
)
def test_a_closed_stdout_is_said_not_a_silent_success(store_folder, args):
    if args == ("show",):
        args = ("show", _statuses_ids(store_folder / "onloop.db")[0])
    done = _closed_stdout(*args, cwd=store_folder)
    assert done.returncode == 2, done.stderr
    assert "standard output is closed" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args", [("runs",), ("audit",), ("--help",), ("tools",), ("policy", "show")]
)
def test_a_full_stdout_is_one_line_not_a_traceback(store_folder, args):
    done = _full_stdout(*args, cwd=store_folder)
    assert done.returncode == 2, done.stderr
    assert "could not write to standard output (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_run_with_a_closed_stdout_records_nothing(store_folder):
    before = _statuses(store_folder / "onloop.db")
    done = _closed_stdout("run", GOAL, cwd=store_folder)
    assert done.returncode == 2
    assert "standard output is closed" in done.stderr
    assert _statuses(store_folder / "onloop.db") == before


def test_resume_with_a_closed_stdout_moves_nothing(store_folder):
    db = store_folder / "onloop.db"
    run_id = _statuses_ids(db)[0]
    with sqlite3.connect(db) as conn:  # a resumable run
        conn.execute("UPDATE runs SET status = 'halted' WHERE id = ?", (run_id,))
    done = _closed_stdout("resume", run_id, cwd=store_folder)
    assert done.returncode == 2
    assert "standard output is closed" in done.stderr
    assert _statuses(db) == ["halted"]


def test_run_into_a_full_stdout_leaves_its_run_halted_and_resumable(tmp_path):
    done = _full_stdout("run", GOAL, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    [status] = _statuses(tmp_path / "onloop.db")
    assert status == "halted", done.stderr  # it was "running", claimed by a process gone
    assert "resume it with: onloop resume" in done.stderr


def test_run_whose_reader_goes_away_before_the_first_line_is_halted(tmp_path):
    """`onloop run ... | head -0`: the reader's end is closed before anything is written."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = _onloop("run", GOAL, cwd=tmp_path, stdout=writer)
    finally:
        os.close(writer)
    assert done.returncode == 1  # quiet about the pipe itself, as other tools are
    assert "Traceback" not in done.stderr
    assert _statuses(tmp_path / "onloop.db") == ["halted"]
    assert "the output closed; halting run" in done.stderr
    assert "resume it with: onloop resume" in done.stderr


def test_run_whose_reader_goes_away_mid_run_is_halted_not_left_running(tmp_path):
    """`onloop run ... | head -5`: the reader reads the first step and goes; the steps after it
    have nowhere to go. The run is halted at once, not driven on blind nor left "running"."""
    driver = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "run", LONG_GOAL],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(ONLOOP_DEMO_DELAY="1"),  # each model call waits 1 s: the reader is gone by then
    )
    assert driver.stdout is not None
    try:
        for line in driver.stdout:
            if line.startswith("[step 1]"):
                break
        driver.stdout.close()
        _, err = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 1, err
    assert "Traceback" not in err
    [status] = _statuses(tmp_path / "onloop.db")
    assert status == "halted", err
    assert "resume it with: onloop resume" in err
    with sqlite3.connect(tmp_path / "onloop.db") as conn:
        steps = conn.execute("SELECT count(*) FROM events WHERE kind = 'model_call'").fetchone()
    assert steps[0] < 4  # it stopped within a step of the reader going, not at the goal's end


def test_a_closed_descriptor_never_goes_to_the_store(tmp_path):
    """With descriptor 1 closed, the next file opened would take it: a tool's child printing to
    its inherited stdout would write into the store's database. It gets /dev/null instead."""
    script = (
        "import os, sys\n"
        "from agent_core.cli.output import guard_stdout\n"
        "guard_stdout()\n"
        f"fd = os.open({str(tmp_path / 'store.db')!r}, os.O_RDWR | os.O_CREAT)\n"
        "os.write(2, f'{fd} {os.readlink(\"/proc/self/fd/1\")}'.encode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        timeout=60,
        preexec_fn=lambda: os.close(1),
    )
    fd, target = done.stderr.split()
    assert int(fd) > 2
    assert target == "/dev/null"
