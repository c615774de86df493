"""Driving an upgraded store as an operator does: `onloop` commands and a real worker process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import storage

WORKER_LEASE_S = "5"


def _env() -> dict[str, str]:
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0", "ONLOOP_UPGRADE_COPY": "0"}
    env.pop("ONLOOP_DATABASE_URL", None)
    return env


def onloop(db: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args, "--db", db],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@contextmanager
def worker(db: str, cwd: Path, workspaces: Path) -> Iterator[subprocess.Popen]:
    """`onloop worker` on the store until the block ends (then stopped as an operator would);
    runs' folders under `workspaces`."""
    command = [sys.executable, "-m", "agent_core", "worker", "--db", db]
    command += ["--concurrency", "4", "--lease-seconds", WORKER_LEASE_S]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**_env(), "ONLOOP_WORKSPACES": str(workspaces)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def tool_starts(store: storage.Store, run_id: str, tool: str) -> list:
    return [
        e
        for e in storage.events_after(store, run_id=run_id)
        if e.kind == "tool_started" and e.payload.get("tool") == tool
    ]
