"""A second `onloop up` on one store says which one runs and how to stop it, and starts nothing;
one that crashed leaves a lock the next `up` finds stale, names and clears. Real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from agent_core.cli.up_lock import LOCK_SUFFIX
from tests.cli.test_up_signin import onloop_up
from tests.support.run_helpers import wait_for
from tests.worker.test_supervisor import alive


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_up(
    tmp_path: Path, port: int, db: str = "onloop.db"
) -> tuple[subprocess.Popen, list[str]]:
    """A real `onloop up`, and its output up to the line saying it is up."""
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
    for name in ("ONLOOP_AUTH", "ONLOOP_INSECURE_NO_AUTH", "ONLOOP_DATABASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--db", db],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # ends at EOF if it dies
        lines.append(line)
        if line.startswith("onloop is up"):
            return process, lines
    raise AssertionError("onloop up did not start:\n" + "".join(lines))


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    return out


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def test_a_second_up_on_the_same_store_names_the_first_and_starts_nothing(tmp_path):
    first_port, second_port = _free_port(), _free_port()
    first, _ = _start_up(tmp_path, first_port)
    try:
        second = onloop_up("--port", str(second_port), "--db", "onloop.db", cwd=tmp_path)
        assert second.returncode == 2
        (line,) = second.stderr.strip().splitlines()
        assert "onloop up is already running on this store" in line
        assert f"pid {first.pid}" in line and f"http://127.0.0.1:{first_port}" in line
        assert f"kill {first.pid}" in line and "Ctrl-C" in line
        assert "onloop is up" not in second.stdout
        with socket.socket() as probe:  # no dashboard was started for the second
            probe.bind(("127.0.0.1", second_port))
        # Another store in the same folder is another matter: the lock is the store's.
        other = onloop_up("--port", str(first_port), "--db", "other.db", cwd=tmp_path)
        assert "already running" not in other.stderr and "port" in other.stderr
        assert "is held by the dashboard of another onloop up" in other.stderr  # named
        assert f"(pid {first.pid}, its dashboard pid " in other.stderr
    finally:
        out = _stop(first)
    assert first.returncode == 0, out
    assert not (tmp_path / f"onloop.db{LOCK_SUFFIX}").exists()  # a clean stop leaves nothing
    again, lines = _start_up(tmp_path, second_port)
    assert not any("cleared" in line for line in lines)
    _stop(again)


def test_a_crashed_up_leaves_a_stale_lock_the_next_up_names_and_clears(tmp_path):
    port = _free_port()
    crashed, _ = _start_up(tmp_path, port)
    dashboard = _children(crashed.pid)
    crashed.kill()  # no clean stop: the lock file stays, its flock goes with the process
    crashed.wait(60)
    # Its dashboard dies with it (a parent-death signal; tests/cli/test_up_supervision.py).
    wait_for(lambda: not any(alive(child) for child in dashboard), 60, "no orphan dashboard")
    lock = tmp_path / f"onloop.db{LOCK_SUFFIX}"
    assert f'"pid": {crashed.pid}' in lock.read_text()
    second_port = _free_port()
    after, lines = _start_up(tmp_path, second_port)
    try:
        (cleared,) = [line for line in lines if "cleared it" in line]
        assert "found the lock of an onloop up that is gone" in cleared
        assert f"pid {crashed.pid}" in cleared and f"http://127.0.0.1:{port}" in cleared
        assert f'"pid": {after.pid}' in lock.read_text()
    finally:
        _stop(after)
    assert not lock.exists()


def test_a_second_up_on_one_postgresql_database_names_the_first(tmp_path, postgres_url):
    port = _free_port()
    first, _ = _start_up(tmp_path, port, db=postgres_url)
    try:
        second = onloop_up("--port", str(_free_port()), "--db", postgres_url, cwd=tmp_path)
        assert second.returncode == 2
        (line,) = second.stderr.strip().splitlines()
        assert "onloop up is already running on this database" in line
        assert f"pid {first.pid}" in line and f"http://127.0.0.1:{port}" in line
        assert f"kill {first.pid}" in line and "onloop is up" not in second.stdout
    finally:
        out = _stop(first)
    assert first.returncode == 0, out
    # The server freed the lock with its connection: the next `up` starts.
    _stop(_start_up(tmp_path, port, db=postgres_url)[0])
