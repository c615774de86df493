"""The `onloop` command line: run goals, serve workers and the dashboard, steer and inspect runs."""

from __future__ import annotations

# Fast start: this module imports only typer, the standard library and our light modules (the
# command groups, errors, event lines, inert text). `--help`, `policy init` and other commands
# that never touch the store stay quick; storage (SQLAlchemy), the policy engine, the worker, the
# tools, the model SDKs and the dashboard are imported inside the commands that need them
# (tests/cli/test_fast_start.py holds this). Every import inside a function here is one of those.
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import storage

app = typer.Typer(
    name="onloop",
    help="A control room for autonomous LLM agents. Start with: onloop up",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: "[model]" is a policy table, not markup
)


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"onloop {version('onloop')}")
        except PackageNotFoundError:  # a source checkout that was never installed
            typer.echo("onloop (not installed: run `pip install -e .`)")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print onloop's version and exit."
        ),
    ] = False,
) -> None:
    """A control room for autonomous LLM agents. Start with: onloop up"""


from agent_core.cli.errors import fail, user_errors  # noqa: E402
from agent_core.cli.policy import policy_app  # noqa: E402
from agent_core.cli.stores import open_db, open_existing_db  # noqa: E402
from agent_core.oversight import inert  # noqa: E402

app.add_typer(policy_app, name="policy")
from agent_core.cli.rules import rules_app  # noqa: E402

app.add_typer(rules_app, name="rules")
from agent_core.cli.tools import tools_command  # noqa: E402

app.command("tools")(tools_command)

Db = Annotated[
    str | None,
    typer.Option(
        "--db", help="SQLite file (or database URL); default ./onloop.db or $ONLOOP_DATABASE_URL"
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
RunId = Annotated[str, typer.Argument(help="The run's id (or a unique prefix of it).")]
RequestTimeout = Annotated[
    float | None,
    typer.Option(
        "--request-timeout",
        help="Seconds a model server may stay silent, before or during a reply (default 120; "
        "$ONLOOP_REQUEST_TIMEOUT; request_timeout_s under [model] in the policy).",
    ),
]
MaxRetries = Annotated[
    int | None,
    typer.Option(
        help="Retries of a model call after a rate limit, server error or lost connection "
        "(default 2; $ONLOOP_MAX_RETRIES; max_retries under [model] in the policy).",
    ),
]
MaxOutputTokens = Annotated[
    int | None,
    typer.Option(
        help="Cap on each model reply in tokens, 0 for none (default 4096; "
        "$ONLOOP_MAX_OUTPUT_TOKENS; max_output_tokens under [model] in the policy).",
    ),
]


def settings_with(request_timeout: float | None, max_retries: int | None, max_output: int | None):
    """The environment's settings, with the model-call limits this command line gave."""
    from agent_core.models.settings import load_settings

    if request_timeout is not None and request_timeout <= 0:
        raise fail("--request-timeout must be above 0 seconds")
    if max_retries is not None and not 0 <= max_retries <= 10:
        raise fail("--max-retries must be between 0 and 10")
    if max_output is not None and max_output < 0:
        raise fail("--max-output-tokens must be 0 (no cap) or more")
    return load_settings().with_limits(
        request_timeout_s=request_timeout, max_retries=max_retries, max_output_tokens=max_output
    )


@app.command()
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


@app.command()
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


@app.command()
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

    count = processes_from(processes)
    telemetry = telemetry_from(metrics_port, metrics_host, log_format)
    if concurrency < 1:
        raise fail("--concurrency must be 1 or more")
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


@app.command("runs")
def list_runs(
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    json_out: Json = False,
    db: Db = None,
) -> None:
    """List runs, newest first."""
    import storage
    from agent_core.cli.render import run_as_dict  # the typed record (pydantic): not on --help

    if status is not None and status not in storage.RUN_STATUSES:
        raise fail(f"unknown status {status!r}; choose one of: {', '.join(storage.RUN_STATUSES)}")
    store = open_existing_db(db)
    found = storage.list_runs(store, status=status, limit=limit)
    if json_out:
        typer.echo(json.dumps([run_as_dict(r) for r in found], indent=2))
        return
    if not found and status is not None and storage.list_runs(store, limit=1):
        typer.echo(f"no {status} runs; `onloop runs` lists runs of every status")
        return
    if not found:
        typer.echo('no runs yet; start one with: onloop run "What is 17.5% of 2,340, plus 118?"')
    for r in found:
        typer.echo(
            f"{r.id}  {r.status:<11} {r.created_at:%Y-%m-%d %H:%M}  "
            f"{inert.visible(r.model_name, newlines=False):<12} "
            f"{r.steps:>3} steps  {inert.visible(r.goal[:60], newlines=False, tabs=False)}"
        )


@app.command()
def show(run_id: RunId, json_out: Json = False, db: Db = None) -> None:
    """Show a run and all its events."""
    import storage
    from agent_core.cli.render import render_event, run_as_dict, run_summary, workspace_line

    store = open_existing_db(db)
    found = storage.get_run(store, run_id=run_id)
    events = storage.events_after(store, run_id=found.id)
    if json_out:
        typer.echo(json.dumps(run_as_dict(found, events), indent=2))
        return
    typer.echo(f"goal: {inert.visible(found.goal)}")
    typer.echo(workspace_line(found))
    for e in events:
        line = render_event(e.kind, e.payload, e.seq)
        if line:
            typer.echo(line)
    typer.echo(run_summary(found))
    _offer_scopes(store, found.id)


def _offer_scopes(store: storage.Store, run_id: str) -> None:
    """For a run waiting on a person: what `onloop approve --allow` may allow with it."""
    import storage
    from agent_core.oversight.decisions import scopes_of

    for approval in storage.pending_approvals(store, run_id=run_id):
        typer.echo(f"waiting for approval {approval.id}: onloop approve {run_id} [--allow SCOPE]")
        for scope in scopes_of(store, approval):
            typer.echo(f"  --allow {scope.kind}: {inert.visible(scope.label, newlines=False)}")


def _pending_of(store: storage.Store, run_id: str):
    import storage

    found = storage.get_run(store, run_id=run_id)
    pending = storage.pending_approvals(store, run_id=found.id)
    if not pending:
        raise fail(
            f"run {found.id} is {found.status} and is not waiting for approval; "
            "`onloop show " + found.id + "` shows what it is doing"
        )
    return pending[0]


@app.command("approve")
def approve_cmd(
    run_id: RunId,
    note: Annotated[str | None, typer.Option(help="A note the model reads.")] = None,
    args: Annotated[str | None, typer.Option(help="Edited arguments as JSON.")] = None,
    allow: Annotated[
        str | None,
        typer.Option(
            help="Also allow calls like it for the rest of the run: 'call' (these exact "
            "arguments), 'prefix' (shell commands starting the same way), 'folder' (this tool "
            "under the same folder), 'file' (this tool on the same files) or 'domain' (this "
            "tool to the same host); never a riskier "
            "class of call. `onloop show RUN_ID` lists the scopes the waiting call offers."
        ),
    ] = None,
    project: Annotated[
        bool,
        typer.Option(
            "--project",
            help="With --allow: allow it in every run of this store from now on (a project "
            "rule; `onloop rules` lists and revokes them).",
        ),
    ] = False,
    db: Db = None,
) -> None:
    """Approve the action a run is waiting on."""
    from agent_core.oversight.decisions import approve, current_user, parse_edited_arguments

    store = open_db(db)
    pending = _pending_of(store, run_id)
    edited = parse_edited_arguments(args) if args else None
    done = approve(
        store,
        approval_id=pending.id,
        by=current_user(),
        note=note,
        edited_arguments=edited,
        allow_scope=allow,
        for_project=project,
    )
    typer.echo(f"approved: {_one_line(done.summary or done.tool)} (run {done.run_id})")
    if done.edited_arguments is not None:
        _say_what_changed(store, pending, done.edited_arguments)
    _resume_for(store, done)


def _say_what_changed(store, pending, edited: dict) -> None:
    """The approved edit as old → new per argument, and the policy's verdict for it."""
    from agent_core.oversight.decisions import review_of

    review = review_of(store, pending, edited)
    for line in review.changes:
        typer.echo(f"  edited {_one_line(line)}")
    typer.echo(f"  the policy for the edited call: {_one_line(review.verdict_line)}")


@app.command("reject")
def reject_cmd(
    run_id: RunId,
    note: Annotated[str | None, typer.Option(help="Why; the model reads it.")] = None,
    db: Db = None,
) -> None:
    """Reject the action a run is waiting on; the model reads the note."""
    from agent_core.oversight.decisions import current_user, reject

    store = open_db(db)
    pending = _pending_of(store, run_id)
    done = reject(store, approval_id=pending.id, by=current_user(), note=note)
    typer.echo(f"rejected: {_one_line(done.summary or done.tool)} (run {done.run_id})")
    _resume_for(store, done)


def _resume_for(store, done) -> None:
    """A decision on an interrupted run's approval queues the run, so it is never a no-op."""
    from agent_core.oversight.decisions import current_user, resume_for_decision

    said = resume_for_decision(store, done, by=current_user())
    if said:
        typer.echo(_one_line(said))


def _one_line(text: object) -> str:
    """Run data on one terminal line: every control, escape and newline shown, not obeyed."""
    return inert.visible(text, newlines=False, tabs=False)


@app.command()
def halt(run_id: RunId, db: Db = None) -> None:
    """Halt a run: no new model call or tool execution starts after this."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.halt(open_db(db), run_id=run_id, by=current_user())
    typer.echo(f"halt sent to run {found.id}")


@app.command()
def pause(run_id: RunId, db: Db = None) -> None:
    """Pause a run at its next step boundary."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.pause(open_db(db), run_id=run_id, by=current_user())
    typer.echo(f"pause sent to run {found.id}; resume it with: onloop resume {found.id}")


@app.command()
def revoke(
    run_id: RunId,
    approval_id: Annotated[
        int, typer.Argument(help="The approval whose allowance ends (`onloop show` names it).")
    ],
    db: Db = None,
) -> None:
    """Withdraw what an approval allowed for the rest of a run: such calls ask again."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.revoke_allowance(
        open_db(db), run_id=run_id, approval_id=approval_id, by=current_user()
    )
    typer.echo(f"revoked for run {found.id}: calls approval {approval_id} allowed ask again")


@app.command()
def guide(
    run_id: RunId,
    message: Annotated[str, typer.Argument(help="What to tell the agent.")],
    db: Db = None,
) -> None:
    """Send guidance that the agent reads at its next step."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.guide(open_db(db), run_id=run_id, by=current_user(), message=message)
    typer.echo(f"guidance queued for run {found.id}")


@app.command()
def resume(
    run_id: RunId,
    more_steps: Annotated[int, typer.Option(help="Extra steps of budget.")] = 0,
    more_minutes: Annotated[float, typer.Option(help="Extra minutes of budget.")] = 0.0,
    guidance: Annotated[
        str | None, typer.Option(help="A message the agent reads on resume.")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Drive it here instead of leaving it to a worker.")
    ] = True,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve every action.")] = False,
    request_timeout: RequestTimeout = None,
    max_retries: MaxRetries = None,
    max_output_tokens: MaxOutputTokens = None,
    db: Db = None,
) -> None:
    """Continue a paused, interrupted, halted or failed run from its stored events."""
    from agent_core.cli.run import drive_in_terminal
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user
    from agent_core.worker.claim_loop import Worker

    settings = settings_with(request_timeout, max_retries, max_output_tokens)
    store = open_db(db)
    # Driven here: claimed by this process as it is queued again, so no worker takes it.
    worker = Worker(store, concurrency=1, settings=settings) if wait else None
    found = control.resume_run(
        store,
        run_id=run_id,
        by=current_user(),
        extra_steps=more_steps,
        extra_seconds=more_minutes * 60,
        message=guidance,
        claimed_by=worker.worker_id if worker else None,
        lease_seconds=worker.lease_seconds if worker else 30.0,
    )
    if worker is None:
        typer.echo(f"run {found.id} queued again; a worker will continue it")
        return
    raise typer.Exit(drive_in_terminal(store, found, worker, yes=yes, json_out=False))


@app.command()
def audit(
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    json_out: Json = False,
    db: Db = None,
) -> None:
    """Every human decision: who, when, what, the arguments hash and the note."""
    import storage

    store = open_existing_db(db)
    if run_id:
        run_id = storage.get_run(store, run_id=run_id).id
    rows = storage.decisions(store, run_id=run_id)
    if json_out:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in rows], indent=2))
        return
    if not rows:
        typer.echo("no decisions recorded yet")
    _echo_steering(store, run_id)
    for a in rows:
        note = f' note="{_one_line(a.note)}"' if a.note else ""
        edited = " (edited arguments)" if a.edited_arguments is not None else ""
        typer.echo(
            f"{a.decided_at:%Y-%m-%d %H:%M:%S}  {a.status:<8} by {_one_line(a.decided_by)}  "
            f"run {a.run_id}  {_one_line(a.tool)}: {_one_line(a.summary)}{edited}  "
            f"hash {(a.approved_hash or a.args_hash)[:12]}"
            f"{note}"
        )


@app.command()
def insights(
    days: Annotated[
        int,
        typer.Option(help="The runs created in the last N days (UTC, today included); 0: all."),
    ] = 30,
    model: Annotated[str | None, typer.Option(help="Only runs of this provider or model.")] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Only this run (its whole life; no --days).")
    ] = None,
    json_out: Json = False,
    db: Db = None,
) -> None:
    """Approval fatigue: asks per run and per 100 tool calls, how asks ended, time to decide,
    decisions under 2 s and who makes them, asks by class, rule and tool, allowances."""
    from agent_core.cli.insights import check_days, show_insights

    check_days(days)
    show_insights(open_existing_db(db), days=days, model=model, run_id=run_id, json_out=json_out)


def _echo_steering(store: storage.Store, run_id: str | None) -> None:
    """Who launched the run (with --run) and every halt, pause and guidance people sent."""
    import storage

    if run_id:
        run = storage.get_run(store, run_id=run_id)
        typer.echo(
            f"{run.created_at:%Y-%m-%d %H:%M:%S}  launched by {_one_line(run.created_by)}  run {run_id}"
        )
    for c in storage.command_history(store, run_id=run_id):
        typer.echo(
            f"{c.created_at:%Y-%m-%d %H:%M:%S}  {c.kind:<8} by {_one_line(c.created_by)}  "
            f"run {c.run_id}"
        )


def main() -> None:
    bad = inert.undecodable(sys.argv[1:])
    if bad is not None:  # bytes that are not UTF-8 would reach the store and fail there
        typer.echo(
            f"error: {inert.visible(bad)} is not UTF-8 text; onloop takes UTF-8 arguments", err=True
        )
        sys.exit(2)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        typer.echo(f"error: {_one_line(exc)}", err=True)
        # 3: the store is a newer onloop's, 4: it was deleted or replaced; a supervisor does
        # not restart such a worker
        import storage
        from agent_core.worker.supervisor import NEWER_STORE_EXIT, STORE_CHANGED_EXIT

        if isinstance(exc, storage.StoreNewer):
            sys.exit(NEWER_STORE_EXIT)
        sys.exit(STORE_CHANGED_EXIT if isinstance(exc, storage.StoreChanged) else 2)
