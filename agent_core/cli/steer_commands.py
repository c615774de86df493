"""`onloop halt`, `pause`, `revoke`, `guide` and `resume`: steering a run from the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from agent_core.cli.options import (
    MOST_MINUTES,
    MOST_STEPS,
    Db,
    MaxOutputTokens,
    MaxRetries,
    RequestTimeout,
    RunId,
    settings_with,
    within,
)
from agent_core.cli.stores import open_existing_db


def halt(run_id: RunId, db: Db = None) -> None:
    """Halt a run: no new model call or tool execution starts after this."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.halt(open_existing_db(db), run_id=run_id, by=current_user())
    typer.echo(f"halt sent to run {found.id}")


def pause(run_id: RunId, db: Db = None) -> None:
    """Pause a run at its next step boundary."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.pause(open_existing_db(db), run_id=run_id, by=current_user())
    typer.echo(f"pause sent to run {found.id}; resume it with: onloop resume {found.id}")


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
        open_existing_db(db), run_id=run_id, approval_id=approval_id, by=current_user()
    )
    typer.echo(f"revoked for run {found.id}: calls approval {approval_id} allowed ask again")


def guide(
    run_id: RunId,
    message: Annotated[str, typer.Argument(help="What to tell the agent.")],
    db: Db = None,
) -> None:
    """Send guidance that the agent reads at its next step."""
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user

    found = control.guide(open_existing_db(db), run_id=run_id, by=current_user(), message=message)
    typer.echo(f"guidance queued for run {found.id}")


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
    from agent_core.cli.output import check_open
    from agent_core.cli.run import drive_in_terminal
    from agent_core.oversight import control
    from agent_core.oversight.decisions import current_user
    from agent_core.worker.claim_loop import Worker

    within("--more-steps", more_steps, 0, MOST_STEPS)
    within("--more-minutes", more_minutes, 0, MOST_MINUTES)
    if wait:
        check_open()  # driven here: nothing moves for a terminal that cannot show it
    settings = settings_with(request_timeout, max_retries, max_output_tokens)
    store = open_existing_db(db)
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
