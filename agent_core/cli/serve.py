"""`onloop worker` and `onloop up`: long-running processes that stop cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import tomllib
from pathlib import Path

import typer

import storage
from agent_core.cli.child_python import child_env, module_command
from agent_core.cli.dashboard_process import start_dashboard, stop_dashboard, wait_healthy
from agent_core.cli.errors import fail
from agent_core.cli.port_holder import port_free, port_in_use
from agent_core.cli.telemetry_options import Telemetry, metrics_line
from agent_core.cli.up_lock import hold_up_lock
from agent_core.models.providers import describe_limits
from agent_core.models.settings import Settings, load_settings
from agent_core.oversight import inert
from agent_core.oversight.confinement import run_shell_offer
from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_file import load_policy
from agent_core.oversight.signin_roles import AccessConfigError, is_loopback, load_auth_config
from agent_core.telemetry import logs
from agent_core.tools.protected import SIGN_IN, register_own_file
from agent_core.worker.claim_loop import Worker
from agent_core.worker.supervisor import WorkerPool
from agent_core.worker.warmup import warm_up
from storage.engine import DATABASE_URL_ENV, shown_url

THEME_FILE = Path(__file__).resolve().parents[2] / "dashboard" / "theme.toml"  # package data


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
    poll_seconds: float = 0.5,
    settings: Settings | None = None,
    telemetry: Telemetry | None = None,
) -> None:
    # A child of `onloop up` or `--processes N`: the store must be the one its supervisor opened.
    storage.check_expected(store, os.environ.pop(storage.STORE_IDENTITY_ENV, None))
    policy = load_policy(policy_path)
    telemetry = telemetry or Telemetry()
    telemetry.configure_logs(policy)
    settings = settings or load_settings()
    worker = Worker(
        store,
        concurrency=concurrency,
        policy=policy,
        lease_seconds=lease_seconds,
        poll_s=poll_seconds,
        settings=settings,
    )
    _stop_on_signals(worker.stop)
    logs.set_worker(worker.worker_id)
    session = telemetry.start_metrics(store)
    warm_up(policy, settings)  # before the first claim: the first run starts like the others
    _check_run_folders(store)
    telemetry.say(
        f"worker {worker.worker_id}: driving up to {concurrency} runs from {shown_url(store.url)} "
        f"({_model_line(settings, policy)}; policy: {policy.source}); Ctrl-C stops\n"
        f"  {run_shell_offer(policy).describe()}{metrics_line(session)}"
    )
    try:
        worker.serve()
    finally:
        session.close()
    telemetry.say("worker stopped; the runs it was driving are queued again for the next worker")


def worker_command(
    *,
    concurrency: int,
    policy_path: str | None,
    lease_seconds: float = 30.0,
    poll_seconds: float = 0.5,
    limits: tuple[float | None, int | None, int | None] = (None, None, None),
    log_format: str = "human",
) -> list[str]:
    """The `onloop worker` command line each process of `--processes N` runs (one process each;
    the store's URL travels in the environment, never on a command line others can read)."""
    command = [*module_command("agent_core"), "worker", "--processes", "1"]
    command += ["--log-format", log_format]
    command += ["--concurrency", str(concurrency), "--lease-seconds", str(lease_seconds)]
    command += ["--poll-seconds", str(poll_seconds)]
    if policy_path:
        command += ["--policy", str(Path(policy_path).resolve())]
    for flag, value in zip(
        ("--request-timeout", "--max-retries", "--max-output-tokens"), limits, strict=True
    ):
        if value is not None:
            command += [flag, str(value)]
    return command


def serve_pool(
    store: storage.Store,
    command: list[str],
    processes: int,
    *,
    policy_path: str | None = None,
    stop: threading.Event | None = None,
    telemetry: Telemetry | None = None,
) -> int:
    """Run `processes` worker processes until Ctrl-C/SIGTERM; 0 after a clean stop."""
    policy = load_policy(policy_path)  # a malformed policy stops here, once, not in every child
    telemetry = telemetry or Telemetry()
    telemetry.configure_logs(policy)
    session = telemetry.start_metrics(store, pool=True)
    pool = WorkerPool(command, processes, env={**_pool_env(store), **session.child_env}, stop=stop)
    _stop_on_signals(pool.stop)
    telemetry.say(
        f"worker pool: {processes} processes sharing the runs of {shown_url(store.url)}; "
        f"Ctrl-C stops them all{metrics_line(session)}"
    )
    try:
        code = pool.serve()
    finally:
        session.close()
    if pool.gave_up:
        typer.echo(f"error: {pool.gave_up}; its message is above", err=True)
    else:
        telemetry.say("worker pool stopped; the runs it was driving are queued again")
    return code


def _pool_env(store: storage.Store) -> dict[str, str]:
    """The children's environment: the store's URL, and its identity (a child that opens a file
    that replaced it since refuses it)."""
    token = storage.store_identity(store).token()
    return child_env({**os.environ, DATABASE_URL_ENV: store.url, storage.STORE_IDENTITY_ENV: token})


def _model_line(settings: Settings, policy: Policy) -> str:
    line = settings.describe_model()
    if settings.openai_configured:
        line += f" ({describe_limits(settings, policy.model)})"
    return line


def _theme_flags() -> list[str]:
    """The dashboard's [theme] (dashboard/theme.toml, installed with the package) as flags: Streamlit reads that
    file only from its working folder, and `onloop up` runs wherever the person is. An install
    without the repository's folder (a wheel) gets Streamlit's own theme."""
    if not THEME_FILE.is_file():
        return []
    with THEME_FILE.open("rb") as file:
        theme = tomllib.load(file)["theme"]
    return [part for key, value in theme.items() for part in (f"--theme.{key}", str(value))]


def serve_up(
    *,
    db: str | None,
    host: str,
    port: int,
    concurrency: int,
    policy_path: str | None,
    processes: int = 1,
    limits: tuple[float | None, int | None, int | None] = (None, None, None),
    settings: Settings | None = None,
    auth_config: str | None = None,
    insecure_no_auth: bool = False,
    telemetry: Telemetry | None = None,
) -> int:
    settings = settings or load_settings()
    policy = load_policy(policy_path)  # a malformed policy stops everything here
    telemetry = telemetry or Telemetry()
    telemetry.configure_logs(policy)
    signin_env, signin_args = _signin(auth_config, host, insecure_no_auth)
    url_db = storage.database_url(db)
    store = storage.open_store(url_db)
    url = f"http://{host}:{port}"
    lock = hold_up_lock(store, url)  # a second `up` on this store says so and stops here
    if lock.cleared:
        gone = f"found the lock of an onloop up that is gone ({lock.cleared}); cleared it"
        typer.echo(inert.visible(gone, newlines=False))  # the file's words: anyone's
    with contextlib.closing(lock):  # released as this `up` stops, however it stops
        if not port_free(host, port):  # named: a leftover dashboard, another up, a program
            raise fail(port_in_use(host, port))
        env = child_env({**os.environ, "ONLOOP_DATABASE_URL": url_db})
        env.pop(AUTH_ENV, None)
        env.pop(INSECURE_ENV, None)
        env.update(signin_env)
        if policy_path:
            env["ONLOOP_POLICY"] = str(Path(policy_path).resolve())
        dashboard = start_dashboard(host, port, env, [*_theme_flags(), *signin_args])
        worker = None
        if processes == 1:  # the worker drives runs in this process, as always
            worker = Worker(store, concurrency=concurrency, policy=policy, settings=settings)
            logs.set_worker(worker.worker_id)
        stop = worker.stop if worker else threading.Event()
        _stop_on_signals(stop)
        try:
            session = telemetry.start_metrics(store, pool=worker is None)
        except typer.Exit:
            stop_dashboard(dashboard)
            raise
        if worker is not None:
            warm_up(policy, settings)  # while the dashboard starts, before the first claim
        _check_run_folders(store)
        if not wait_healthy(url, dashboard):
            session.close()
            stop_dashboard(dashboard)
            detail = (dashboard.stderr.read() if dashboard.stderr else "")[-800:]
            said = detail.strip() or "no output"
            raise fail(f"the dashboard did not start: {said}", lines=True)
        telemetry.say(
            f"onloop is up: {url}\n  store: {shown_url(store.url)}\n  model: "
            f"{_model_line(settings, policy)}\n  policy: {policy.source}\n"
            f"  {run_shell_offer(policy).describe()}\n"
            f"  {_signin_line(auth_config, insecure_no_auth)}\n"
            f"  workers: {_workers_line(processes, concurrency)}{metrics_line(session)}\n"
            "  Ctrl-C stops the dashboard and the worker"
        )
        threading.Thread(target=_watch, args=(dashboard, stop), daemon=True).start()
        pool: WorkerPool | None = None
        code = 0
        try:  # the dashboard stops with the worker, also when the worker stops on an error
            if worker is not None:
                worker.serve()
            else:
                command = worker_command(
                    concurrency=concurrency,
                    policy_path=policy_path,
                    limits=limits,
                    log_format=telemetry.log_format,
                )
                # The workers learn the sign-in file from the environment: none of their tools
                # may write it.
                env = {**_pool_env(store), **signin_env, **session.child_env}
                pool = WorkerPool(command, processes, env=env, stop=stop)
                code = pool.serve()
        finally:
            session.close()
            stop_dashboard(dashboard)
        if pool is not None and pool.gave_up:
            raise fail(f"{pool.gave_up}; its message is above", code=code)
        telemetry.say("onloop stopped")
        return 0


def _check_run_folders(store: storage.Store) -> None:
    """Said at the start, on stderr: the runs this worker would make a fresh folder for cannot
    get one (the workspace root is not writable). It still starts: runs that work in a folder
    of their own run, the dashboard shows the history, and the Launch page refuses the others
    before queueing them."""
    from agent_core.tools.workspace_choice import WorkspaceChoiceError, check_workspace_root

    try:
        check_workspace_root(store.workspace_root)
    except WorkspaceChoiceError as exc:
        typer.echo(
            f"warning: {inert.visible(exc, newlines=False)}; until then, runs that need a fresh "
            "folder fail as they start",
            err=True,
        )


def _workers_line(processes: int, concurrency: int) -> str:
    if processes == 1:
        return f"one process driving up to {concurrency} runs"
    return f"{processes} processes, each driving up to {concurrency} runs"


AUTH_ENV = "ONLOOP_AUTH"  # dashboard.store reads the sign-in file's [roles] from here
INSECURE_ENV = "ONLOOP_INSECURE_NO_AUTH"


def _signin(
    auth_config: str | None, host: str, insecure_no_auth: bool
) -> tuple[dict[str, str], list[str]]:
    """The dashboard's environment and Streamlit flags for sign-in, or a refusal naming the fix.

    The sign-in file becomes Streamlit's only secrets file (its [auth] table is what st.login
    reads); only its path travels, never a value from it.
    """
    if auth_config:
        path = str(Path(auth_config).resolve())
        try:
            load_auth_config(path)
        except AccessConfigError as error:
            raise fail(str(error)) from None
        register_own_file(path, SIGN_IN)  # this process's worker: no tool may write it
        return {AUTH_ENV: path}, ["--secrets.files", path]
    if insecure_no_auth:
        return {INSECURE_ENV: "1"}, []
    if not is_loopback(host):
        raise fail(
            f"refusing to serve the dashboard on {host} without sign-in: pass --auth-config "
            "FILE (see README, Sign-in and roles), bind to 127.0.0.1, or add --insecure-no-auth"
        )
    return {}, []


def _signin_line(auth_config: str | None, insecure_no_auth: bool) -> str:
    if auth_config:
        return f"sign-in: OpenID Connect, roles from {Path(auth_config).resolve()}"
    if insecure_no_auth:
        return "sign-in: NONE (--insecure-no-auth): anyone who reaches it can approve"
    return "sign-in: none, local only (you, as the OS user)"


def _watch(dashboard: subprocess.Popen, stop: threading.Event) -> None:
    dashboard.wait()
    stop.set()
