"""`onloop runs`, `show`, `audit` and `insights`: what runs did and what people decided.

Fast start: only typer and light modules at the top; the store loads inside each command."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agent_core.cli.errors import fail
from agent_core.cli.options import MOST_ROWS, Db, Json, RunId, within
from agent_core.cli.stores import open_existing_db
from agent_core.cli.terminal_text import fit, one_line, terminal_width
from agent_core.oversight import inert

if TYPE_CHECKING:
    import storage


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
    within("--limit", limit, 1, MOST_ROWS)
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


def show(run_id: RunId, json_out: Json = False, db: Db = None) -> None:
    """Show a run and all its events."""
    import storage
    from agent_core.cli.render import (
        goal_line,
        render_event,
        run_as_dict,
        run_summary,
        workspace_line,
    )

    store = open_existing_db(db)
    found = storage.get_run(store, run_id=run_id)
    events = storage.events_after(store, run_id=found.id)
    if json_out:
        typer.echo(json.dumps(run_as_dict(found, events), indent=2))
        return
    width = terminal_width(sys.stdout)
    typer.echo(fit(goal_line(found), width))
    typer.echo(workspace_line(found))
    for e in events:
        line = render_event(e.kind, e.payload, e.seq)
        if line:
            typer.echo(fit(line, width))
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


def audit(
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    json_out: Json = False,
    db: Db = None,
) -> None:
    """Every human decision: who, when, what, the arguments hash and the note."""
    import storage

    store = open_existing_db(db)
    if run_id is not None:  # `--run ""` (an unset shell variable) is no run, not every run
        run_id = storage.get_run(store, run_id=run_id).id
    rows = storage.decisions(store, run_id=run_id)
    if json_out:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in rows], indent=2))
        return
    if not rows:
        typer.echo("no decisions recorded yet")
    _echo_steering(store, run_id)
    for a in rows:
        note = f' note="{one_line(a.note)}"' if a.note else ""
        edited = " (edited arguments)" if a.edited_arguments is not None else ""
        typer.echo(
            f"{a.decided_at:%Y-%m-%d %H:%M:%S}  {a.status:<8} by {one_line(a.decided_by)}  "
            f"run {a.run_id}  {one_line(a.tool)}: {one_line(a.summary)}{edited}  "
            f"hash {(a.approved_hash or a.args_hash)[:12]}"
            f"{note}"
        )


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
            f"{run.created_at:%Y-%m-%d %H:%M:%S}  launched by {one_line(run.created_by)}  run {run_id}"
        )
    for c in storage.command_history(store, run_id=run_id):
        typer.echo(
            f"{c.created_at:%Y-%m-%d %H:%M:%S}  {c.kind:<8} by {one_line(c.created_by)}  "
            f"run {c.run_id}"
        )
