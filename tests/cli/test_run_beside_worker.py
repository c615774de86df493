"""`onloop run` beside a running worker (the one `onloop up` starts) on the same store: the CLI
drives its own run with its own model settings; no worker can take it from under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import storage
from tests.cli.test_commands import onloop

GOALS = 4  # each `onloop run` a chance for the worker to take the run it just queued


def _worker(db, cwd) -> subprocess.Popen:
    """A real `onloop worker` without any model settings, polling often, ready when it says so."""
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL"):
        env.pop(name, None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "worker", "--db", str(db), "--poll-seconds", "0.05"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert worker.stdout is not None
    banner = worker.stdout.readline()
    assert "driving up to" in banner, banner
    return worker


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=60)
    return out or ""


@pytest.fixture
def worker(tmp_path):
    process = _worker(tmp_path / "onloop.db", tmp_path)
    yield process
    if process.poll() is None:
        _stop(process)


def test_run_drives_its_own_run_with_its_own_model_settings(tmp_path, worker, fake_openai):
    met = json.dumps({"met": True, "reason": "it said the number"})  # the final goal check
    fake_openai.script([r for n in range(GOALS) for r in (f"The answer is {n}.", met)])
    env = {"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": ""}
    for n in range(GOALS):
        done = onloop("run", f"Say the number {n}", "--json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "OPENAI" not in done.stderr
        assert json.loads(done.stdout)["result"] == f"The answer is {n}."
    store = storage.open_store(str(tmp_path / "onloop.db"))
    runs = storage.list_runs(store)
    assert len(runs) == GOALS and {r.status for r in runs} == {"succeeded"}
    assert fake_openai.remaining == 0  # every model call came from the CLI's settings
    assert worker.poll() is None
