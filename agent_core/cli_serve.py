"""`onloop worker` and `onloop up`: long-running processes that stop cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import typer

import storage
from agent_core.policy import Policy
from agent_core.policy_file import load_policy
from agent_core.providers import describe_limits
from agent_core.run.tool_process import run_shell_offer
from agent_core.settings import Settings, load_settings
from agent_core.worker import Worker
from storage.engine import shown_url

DASHBOARD_APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def serve_worker(
    store: storage.Store,
    *,
    concurrency: int,
    policy_path: str | None = None,
    lease_seconds: float = 30.0,
    settings: Settings | None = None,
) -> None:
    policy = load_policy(policy_path)
    settings = settings or load_settings()
    worker = Worker(
        store,
        concurrency=concurrency,
        policy=policy,
        lease_seconds=lease_seconds,
        settings=settings,
    )
    _stop_on_signals(worker.stop)
    typer.echo(
        f"worker {worker.worker_id}: driving up to {concurrency} runs from {shown_url(store.url)} "
        f"({_model_line(settings, policy)}; policy: {policy.source}); Ctrl-C stops\n"
        f"  {run_shell_offer(policy).describe()}"
    )
    worker.serve()
    typer.echo("worker stopped; the runs it was driving are queued again for the next worker")


def _model_line(settings: Settings, policy: Policy) -> str:
    line = settings.describe_model()
    if settings.openai_configured:
        line += f" ({describe_limits(settings, policy.model)})"
    return line


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def serve_up(
    *,
    db: str | None,
    host: str,
    port: int,
    concurrency: int,
    policy_path: str | None,
    settings: Settings | None = None,
) -> int:
    from agent_core.cli import fail

    settings = settings or load_settings()
    policy = load_policy(policy_path)  # a malformed policy stops everything here
    url_db = storage.database_url(db)
    store = storage.open_store(url_db)
    if not _port_free(host, port):
        raise fail(f"port {port} on {host} is in use; pick another with --port")
    env = {**os.environ, "ONLOOP_DATABASE_URL": url_db}
    if policy_path:
        env["ONLOOP_POLICY"] = str(Path(policy_path).resolve())
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]
    dashboard = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    url = f"http://{host}:{port}"
    worker = Worker(store, concurrency=concurrency, policy=policy, settings=settings)
    _stop_on_signals(worker.stop)
    if not _wait_healthy(url, dashboard):
        dashboard.terminate()
        detail = (dashboard.stderr.read() if dashboard.stderr else "")[-800:]
        raise fail(f"the dashboard did not start: {detail.strip() or 'no output'}")
    typer.echo(
        f"onloop is up: {url}\n  store: {shown_url(store.url)}\n  model: "
        f"{_model_line(settings, policy)}\n  policy: {policy.source}\n"
        f"  {run_shell_offer(policy).describe()}\n"
        "  Ctrl-C stops the dashboard and the worker"
    )
    threading.Thread(target=_watch, args=(dashboard, worker.stop), daemon=True).start()
    worker.serve()
    _terminate(dashboard)
    typer.echo("onloop stopped")
    return 0


def _watch(dashboard: subprocess.Popen, stop: threading.Event) -> None:
    dashboard.wait()
    stop.set()


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
