"""`onloop approve` and `onloop reject`: a person's decision on the action a run waits on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from agent_core.cli.errors import fail
from agent_core.cli.options import Db, RunId
from agent_core.cli.stores import open_existing_db
from agent_core.cli.terminal_text import one_line

if TYPE_CHECKING:
    import storage


def _pending_of(store: storage.Store, run_id: str):
    import storage
    from storage.vocabulary import RunStatus

    found = storage.get_run(store, run_id=run_id)
    pending = storage.pending_approvals(store, run_id=found.id)
    show = f"`onloop show {found.id}` shows what it is doing"
    if not pending and found.status == RunStatus.WAITING:  # decided by someone else
        raise fail(
            f"run {found.id} has no pending approval: the one it waits on was decided already "
            f"and its driver has not taken the decision up yet; {show}"
        )
    if not pending:
        raise fail(f"run {found.id} is {found.status} and is not waiting for approval; {show}")
    return pending[0]


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

    store = open_existing_db(db)
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
    typer.echo(f"approved: {one_line(done.summary or done.tool)} (run {done.run_id})")
    if done.edited_arguments is not None:
        _say_what_changed(store, pending, done.edited_arguments)
    _resume_for(store, done)


def _say_what_changed(store, pending, edited: dict) -> None:
    """The approved edit as old → new per argument, and the policy's verdict for it."""
    from agent_core.oversight.decisions import review_of

    review = review_of(store, pending, edited)
    for line in review.changes:
        typer.echo(f"  edited {one_line(line)}")
    typer.echo(f"  the policy for the edited call: {one_line(review.verdict_line)}")


def reject_cmd(
    run_id: RunId,
    note: Annotated[str | None, typer.Option(help="Why; the model reads it.")] = None,
    db: Db = None,
) -> None:
    """Reject the action a run is waiting on; the model reads the note."""
    from agent_core.oversight.decisions import current_user, reject

    store = open_existing_db(db)
    pending = _pending_of(store, run_id)
    done = reject(store, approval_id=pending.id, by=current_user(), note=note)
    typer.echo(f"rejected: {one_line(done.summary or done.tool)} (run {done.run_id})")
    _resume_for(store, done)


def _resume_for(store, done) -> None:
    """A decision on an interrupted run's approval queues the run, so it is never a no-op."""
    from agent_core.oversight.decisions import current_user, resume_for_decision

    said = resume_for_decision(store, done, by=current_user())
    if said:
        typer.echo(one_line(said))
