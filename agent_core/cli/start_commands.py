"""`onloop run`, `onloop worker` and `onloop up`: a goal driven here, workers, the dashboard.

Fast start: only typer and light modules at the top; what a command needs loads inside it."""

from __future__ import annotations

from typing import Annotated

import typer

from agent_core.cli.errors import fail
from agent_core.cli.options import (
    DAY_SECONDS,
    MOST_CONCURRENCY,
    Db,
    Json,
    MaxOutputTokens,
    MaxRetries,
    RequestTimeout,
    settings_with,
    within,
)
from agent_core.cli.stores import open_db


def run(
    goal: Annotated[str, typer.Argument(help="What the agent should achieve.")],
    model: Annotated[
        str | None,
        typer.Option(
            help="demo or openai (default: openai when OPENAI_API_KEY/OPENAI_BASE_URL is set)"
        ),
    ] = None,
    model_name: Annotated[str | None, typer.Option(help="e.g. gpt-4o-mini, llama3.1")] = None,
    autonomy: Annotated[str, typer.Option(help="manual | supervised | autonomous")] = "supervised",
    max_steps: Annotated[int, typer.Option(help="Model calls before the budget is spent.")] = 30,
    max_minutes: Annotated[float, typer.Option(help="Working time budget.")] = 10.0,
    tools: Annotated[
        str | None, typer.Option(help="Comma-separated tool names (default all).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every action.")] = False,
    policy: Annotated[str | None, typer.Option(help="Policy file (default ./onloop.toml).")] = None,
    workspace: Annotated[
        str | None,
        typer.Option(help="Work directly in this existing folder (default: a fresh folder)."),
    ] = None,
    seed_from: Annotated[
        str | None,
        typer.Option(help="Start in a fresh folder holding a copy of this one (safe to try)."),
    ] = None,
    request_timeout: RequestTimeout = None,
    max_retries: MaxRetries = None,
    max_output_tokens: MaxOutputTokens = None,
    json_out: Json = False,
    db: Db = None,
) -> None:
    """Start a run and drive it here (no worker takes it), printing each step and asking
    approvals on the terminal."""
    from agent_core.cli.run import run_in_terminal

    settings = settings_with(request_timeout, max_retries, max_output_tokens)
    code = run_in_terminal(
        goal=goal,
        model=model,
        model_name=model_name,
        autonomy=autonomy,
        max_steps=max_steps,
        max_minutes=max_minutes,
        tools=tools,
        yes=yes,
        policy_path=policy,
        json_out=json_out,
        db=db,
        workspace=workspace,
        seed_from=seed_from,
        settings=settings,
    )
    raise typer.Exit(code)


Processes = Annotated[
    str,
    typer.Option(
        help="Worker processes sharing the runs: a number, or auto (one per CPU); "
        "--concurrency is per process.",
    ),
]


MetricsPort = Annotated[
    int | None,
    typer.Option(
        help="Serve Prometheus metrics on this port (0: any free port; the start line says "
        "which); off by default. With --processes N the supervisor serves all processes' sums.",
    ),
]
MetricsHost = Annotated[
    str,
    typer.Option(help="Address the metrics endpoint binds; 127.0.0.1 keeps it local."),
]
LogFormat = Annotated[
    str,
    typer.Option(
        help="Log lines on stderr: human (default) or json (one object per line, with run id, "
        "worker id, event kind, trace and span ids).",
    ),
]


def telemetry_from(metrics_port: int | None, metrics_host: str, log_format: str):
    from agent_core.cli.telemetry_options import Telemetry
    from agent_core.telemetry.logs import LogFormatError, check_format

    try:
        fmt = check_format(log_format)
    except LogFormatError as error:
        raise fail(str(error)) from None
    if metrics_port is not None and not 0 <= metrics_port <= 65535:
        raise fail(f"--metrics-port must be a port number (0-65535), not {metrics_port}")
    if not metrics_host.strip():
        raise fail("--metrics-host needs an address, e.g. 127.0.0.1")
    return Telemetry(metrics_port, metrics_host.strip(), fmt)


def processes_from(value: str) -> int:
    from agent_core.worker.supervisor import ProcessesError, parse_processes

    try:
        return parse_processes(value)
    except ProcessesError as error:
        raise fail(str(error)) from None


def worker(
    concurrency: Annotated[int, typer.Option(help="Runs driven at once (per process).")] = 2,
    processes: Processes = "1",
    policy: Annotated[str | None, typer.Option(help="Policy file (default ./onloop.toml).")] = None,
    lease_seconds: Annotated[
        float, typer.Option(help="How long a claimed run stays ours without a heartbeat.")
    ] = 30.0,
    poll_seconds: Annotated[
        float, typer.Option(hidden=True, help="Seconds between looks for queued runs.")
    ] = 0.5,
    request_timeout: RequestTimeout = None,
    max_retries: MaxRetries = None,
    max_output_tokens: MaxOutputTokens = None,
    db: Db = None,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
    log_format: LogFormat = "human",
) -> None:
    """Claim queued runs and drive them until Ctrl-C."""
    from agent_core.worker.supervisor import die_with_supervisor

    die_with_supervisor()  # a child of `--processes N`: it ends when its supervisor does
    count = processes_from(processes)
    telemetry = telemetry_from(metrics_port, metrics_host, log_format)
    if concurrency < 1 or lease_seconds <= 0 or poll_seconds <= 0:
        raise fail("--concurrency must be 1 or more and --lease-seconds above 0")
    within("--concurrency", concurrency, 1, MOST_CONCURRENCY)
    within("--lease-seconds", lease_seconds, 0, DAY_SECONDS, above=True)
    within("--poll-seconds", poll_seconds, 0, DAY_SECONDS, above=True)
    settings = settings_with(request_timeout, max_retries, max_output_tokens)
    if count > 1:
        from agent_core.cli.serve import serve_pool, worker_command

        command = worker_command(
            concurrency=concurrency,
            policy_path=policy,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
            limits=(request_timeout, max_retries, max_output_tokens),
            log_format=telemetry.log_format,
        )
        code = serve_pool(open_db(db), command, count, policy_path=policy, telemetry=telemetry)
        raise typer.Exit(code)
    from agent_core.cli.serve import serve_worker

    serve_worker(
        open_db(db),
        concurrency=concurrency,
        policy_path=policy,
        lease_seconds=lease_seconds,
        poll_seconds=poll_seconds,
        settings=settings,
        telemetry=telemetry,
    )


def up(
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 keeps it local.")
    ] = "127.0.0.1",
    concurrency: Annotated[
        int, typer.Option(help="Runs the worker drives at once (per process).")
    ] = 2,
    processes: Processes = "1",
    policy: Annotated[str | None, typer.Option(help="Policy file (default ./onloop.toml).")] = None,
    request_timeout: RequestTimeout = None,
    max_retries: MaxRetries = None,
    max_output_tokens: MaxOutputTokens = None,
    db: Db = None,
    auth_config: Annotated[
        str | None,
        typer.Option(
            envvar="ONLOOP_AUTH",
            help="Sign-in file: [auth] for OpenID Connect (as Streamlit reads it) and [roles].",
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(help="Serve a non-loopback address without sign-in (a red banner says so)."),
    ] = False,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
    log_format: LogFormat = "human",
) -> None:
    """Start the dashboard and a worker; Ctrl-C stops both."""
    from agent_core.cli.serve import serve_up

    within("--port", port, 1, 65535)  # 0 would let the dashboard pick one nobody is told
    count = processes_from(processes)
    telemetry = telemetry_from(metrics_port, metrics_host, log_format)
    if concurrency < 1:
        raise fail("--concurrency must be 1 or more")
    within("--concurrency", concurrency, 1, MOST_CONCURRENCY)
    settings = settings_with(request_timeout, max_retries, max_output_tokens)
    raise typer.Exit(
        serve_up(
            db=db,
            host=host,
            port=port,
            concurrency=concurrency,
            processes=count,
            limits=(request_timeout, max_retries, max_output_tokens),
            policy_path=policy,
            settings=settings,
            auth_config=auth_config,
            insecure_no_auth=insecure_no_auth,
            telemetry=telemetry,
        )
    )
