"""Arize Phoenix (`python -m phoenix.server.main serve`, the arize-phoenix package) on 127.0.0.1:
a real trace receiver nobody here wrote, read back through its own REST API. Its telemetry and
external resources are off: it never leaves this machine."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 180.0  # Phoenix migrates its own SQLite on start: slow on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def phoenix(working_dir: Path) -> Iterator[str]:
    """Phoenix on free ports with its data in `working_dir`; yields its URL (the UI, the REST
    API and the OTLP/HTTP endpoint at /v1/traces), stopped afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }
    for name in [n for n in env if n.startswith("OTEL_")]:  # Phoenix traces nothing of its own
        del env[name]
    log = (working_dir / "phoenix.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "phoenix.server.main", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, working_dir / "phoenix.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"Phoenix exited ({server.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        time.sleep(0.5)
    raise AssertionError(f"Phoenix did not start in {START_TIMEOUT_S} s: {log.read_text()[-2000:]}")


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def spans(url: str, project: str) -> list[dict[str, Any]]:
    """Every span of `project`, as Phoenix's REST API gives them (GET /v1/projects/../spans)."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = get(f"{url}/v1/projects/{project}/spans?limit=100{cursor}")
        found += page["data"]
        if not page.get("next_cursor"):
            return found
        cursor = f"&cursor={page['next_cursor']}"
