"""`onloop up` owns its children: the dashboard and `--processes` workers die with it however it
dies (SIGKILL too), a leftover holding the port is named on start, and a store deleted or
replaced under it stops it. Real processes, real ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import storage
from tests.cli.test_up_once import _children, _free_port, _stop
from tests.cli.test_up_signin import onloop_up
from tests.support.run_helpers import new_run, wait_for
from tests.worker.test_same_store import checkpoint
from tests.worker.test_supervisor import alive

GOAL = "What is 17.5% of 2,340, plus 118?"
DASHBOARD_APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def _env() -> dict[str, str]:
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
    for name in ("ONLOOP_AUTH", "ONLOOP_INSECURE_NO_AUTH", "ONLOOP_DATABASE_URL", "OPENAI_API_KEY"):
        env.pop(name, None)
    return env


def _start(tmp_path: Path, port: int, *args: str) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--db", "onloop.db", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # ends at EOF if it dies
        lines.append(line)
        if line.startswith("onloop is up"):
            return process, lines
    raise AssertionError("onloop up did not start:\n" + "".join(lines))


def _holds_port(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_a_killed_up_takes_its_dashboard_and_workers_with_it(tmp_path):
    port = _free_port()
    up, _ = _start(tmp_path, port, "--processes", "2")
    # the dashboard and two worker processes
    children = wait_for(lambda: len(_children(up.pid)) == 3 and _children(up.pid), 120, "3")
    up.kill()  # SIGKILL: no handler of up's runs; the kernel tells the children
    up.wait(60)
    assert wait_for(lambda: not any(alive(pid) for pid in children), 120, "no orphan child")
    assert wait_for(lambda: not _holds_port(port), 60, "the port free again")
    again, lines = _start(tmp_path, port)  # the next `up` on the same port starts
    assert any("cleared it" in line for line in lines)  # the dead one's lock, named
    out = _stop(again)
    assert again.returncode == 0, out


def test_a_leftover_dashboard_holding_the_port_is_named(tmp_path):
    # What a crash of a release without parent-death signals left behind: a dashboard started
    # the way `up` started it, now nobody's child, still serving the port.
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP)]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    env = {**_env(), "ONLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'onloop.db'}"}
    leftover = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _holds_port(port), 120, "the leftover dashboard serving")
        refused = onloop_up("--port", str(port), "--db", "onloop.db", cwd=tmp_path)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        held = f"port {port} on 127.0.0.1 is held by an onloop dashboard (pid {leftover.pid}, "
        assert held in line and f"serving {tmp_path / 'onloop.db'})" in line
        assert "an earlier onloop up that did not stop cleanly" in line
        assert f"kill {leftover.pid}" in line and "--port" in line
    finally:
        leftover.kill()
        leftover.wait(60)


def test_another_program_holding_the_port_is_named(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        refused = onloop_up("--port", str(port), "--db", "onloop.db", cwd=tmp_path)
        assert refused.returncode == 2
        (line,) = refused.stderr.strip().splitlines()
        assert f"port {port} on 127.0.0.1 is in use by pid {holder.pid} (python" in line
        assert "pick another with --port" in line and "onloop dashboard" not in line
    finally:
        holder.kill()
        holder.wait(60)


def test_a_store_replaced_under_up_stops_it_and_its_dashboard(tmp_path):
    port = _free_port()
    up, _ = _start(tmp_path, port)
    dashboard = _children(up.pid)
    other = tmp_path / "other.db"
    with storage.open_store(f"sqlite:///{other}") as elsewhere:
        queued = new_run(elsewhere, GOAL).id
    checkpoint(tmp_path / "onloop.db")
    os.replace(other, tmp_path / "onloop.db")
    out, _ = up.communicate(timeout=90)
    assert up.returncode == 4, out
    assert "Traceback" not in out and "no run with id" not in out, out
    assert "was replaced by another file while this worker was using it" in out
    assert wait_for(lambda: not any(alive(pid) for pid in dashboard), 60, "no dashboard left")
    with storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}") as replaced:
        run = storage.get_run(replaced, run_id=queued)
        assert (run.status, run.claim_epoch) == ("queued", 0)
