"""`onloop run` beside a running worker (the one `onloop up` starts) on the same store: the CLI
drives its own run with its own model settings; no worker can take it from under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

import storage
from tests.cli.test_commands import onloop
from tests.support.fake_openai import Reply

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


def _until(check, what: str):
    """A bounded wait for another process to get somewhere (not a timing assertion)."""
    for _ in range(1200):  # up to a minute on a loaded machine
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_a_run_whose_cli_died_is_taken_over_and_fails_naming_the_fix(tmp_path, worker, fake_openai):
    """The CLI dies in a model call; once its lease lapses the worker (without model settings)
    takes the run over and fails it saying where the settings must be; `onloop resume` from a
    shell that has them finishes it, beside the same worker."""
    db = tmp_path / "onloop.db"
    met = json.dumps({"met": True, "reason": "it said the number"})
    fake_openai.script([Reply(text="never arrives", hold_at=(0,)), "The answer is 7.", met])
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0", "OPENAI_BASE_URL": fake_openai.base_url}
    env.pop("OPENAI_API_KEY", None)
    cli = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "run", "Say the number 7", "--db", str(db)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    _until(lambda: fake_openai.requests, "the CLI's model call reached the server")
    cli.kill()  # gone without a word: its lease is never renewed again
    cli.wait(60)
    fake_openai.proceed()  # the held reply goes nowhere
    store = storage.open_store(str(db))
    (run,) = storage.list_runs(store)
    assert run.status == "running" and run.worker_id  # the dead CLI still holds it
    # The lease lapses now instead of in 30 s: the store's clock is the only thing changed.
    storage.update_run(store, run_id=run.id, lease_expires_at=datetime(2000, 1, 1))
    failed = _until(
        lambda: (r := storage.get_run(store, run_id=run.id)).status == "failed" and r,
        "the worker took the run over and failed it",
    )
    assert f"onloop resume {run.id}" in failed.reason
    assert "has no OPENAI_API_KEY or OPENAI_BASE_URL in its environment" in failed.reason
    assert failed.worker_id is None
    kinds = [e.kind for e in storage.events_after(store, run_id=run.id)]
    assert "recovered" in kinds  # lost in a model call: safe to repeat, so a worker took it
    resumed = onloop("resume", run.id, "--db", str(db), cwd=tmp_path, env=dict(env))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = storage.get_run(store, run_id=run.id)
    assert done.status == "succeeded" and done.result == "The answer is 7."
    assert worker.poll() is None
