"""Steering a run from outside the loop: halt, pause, guidance, resume and re-run."""

from __future__ import annotations

from typing import Any

import storage
from agent_core.oversight.signin_roles import AccessDenied, Person, require
from storage.models import Run
from storage.runs import MAX_GOAL_CHARS
from storage.vocabulary import ACTIVE_STATUSES, RESUMABLE_STATUSES, UNDER_WAY, RunStatus


class ControlError(Exception):
    """A steering request that does not fit the run's state; the message names the fix."""


def _operator(by: str | Person) -> str:
    """Who steers, as the audit names them; a signed-in person needs the operator role."""
    try:
        return require(by, "operator")
    except AccessDenied as error:
        raise ControlError(str(error)) from error


def launch(store: storage.Store, *, by: str | Person, **settings: Any) -> Run:
    """Queue a new run (the dashboard's Launch page); a signed-in person needs operator."""
    return storage.create_run(store, created_by=_operator(by), **settings)


def halt(store: storage.Store, *, run_id: str, by: str | Person) -> Run:
    """Halt a run: one atomic decision in the store (see storage.halt_run). A run nobody drives
    ends `halted` at once, so no worker can claim it afterwards; a running or waiting run gets
    a halt command its driver honours before its next model request or tool start."""
    by = _operator(by)
    run = storage.get_run(store, run_id=run_id)  # resolves an id prefix
    try:
        storage.halt_run(store, run_id=run.id, by=by)
    except storage.InvalidState as error:
        raise ControlError(str(error)) from error
    return storage.get_run(store, run_id=run.id)


def pause(store: storage.Store, *, run_id: str, by: str | Person) -> Run:
    by = _operator(by)
    run = storage.get_run(store, run_id=run_id)
    if run.status not in UNDER_WAY:
        raise ControlError(f"run {run.id} is {run.status}; only a running run can be paused")
    storage.send_command(store, run_id=run.id, kind="pause", created_by=by)
    return run


def guide(store: storage.Store, *, run_id: str, by: str | Person, message: str) -> Run:
    by = _operator(by)
    message = message.strip()
    if not message:
        raise ControlError("the guidance is empty; type what the agent should do differently")
    _check_guidance_length(message)
    run = storage.get_run(store, run_id=run_id)
    if run.status not in ACTIVE_STATUSES and run.status != RunStatus.INTERRUPTED:
        raise ControlError(
            f"run {run.id} is {run.status}; guidance reaches only active runs "
            f"(resume it with guidance instead: onloop resume {run.id} --guidance ...)"
        )
    storage.send_command(
        store, run_id=run.id, kind="guidance", payload={"message": message}, created_by=by
    )
    return run


def _check_guidance_length(message: str) -> None:
    """Guidance is read by the model at every later step, as the goal is: the goal's limit."""
    if len(message) > MAX_GOAL_CHARS:
        raise ControlError(
            f"the guidance is {len(message):,} characters; the limit is "
            f"{MAX_GOAL_CHARS:,}. Say it briefly and put long material in a file in the "
            "run's workspace"
        )


def revoke_allowance(
    store: storage.Store, *, run_id: str, approval_id: int, by: str | Person
) -> Run:
    """Withdraw what an approval of this run allowed for the rest of it; the run's worker reads
    it before its next step (a run not driven now reads it when it resumes)."""
    by = _operator(by)
    run = storage.get_run(store, run_id=run_id)
    approval = storage.get_approval(store, approval_id=approval_id)
    if approval.run_id != run.id or approval.status != "approved" or not approval.allow_scope:
        raise ControlError(
            f"approval {approval_id} allowed nothing for the rest of run {run.id}; "
            f"`onloop show {run.id}` lists what its approvals allowed"
        )
    if run.status in storage.FINISHED_STATUSES:
        raise ControlError(f"run {run.id} already {run.status}; its allowances ended with it")
    storage.send_command(
        store, run_id=run.id, kind="revoke", payload={"approval_id": approval_id}, created_by=by
    )
    return run


def resume_run(
    store: storage.Store,
    *,
    run_id: str,
    by: str | Person,
    extra_steps: int = 0,
    extra_seconds: float = 0.0,
    extra_tokens: int = 0,
    extra_cost_usd: float = 0.0,
    message: str | None = None,
    seen_status: str | None = None,
    claimed_by: str | None = None,
    lease_seconds: float = 30.0,
) -> Run:
    """Queue a paused, interrupted, halted or failed run again; a worker rebuilds it from events.

    seen_status: the status the person saw when they asked (a page); if the run has changed
    since (say a halt landed), the resume is refused rather than undoing what came after.
    claimed_by: a driver's worker id (`onloop resume` drives it here): the run is claimed by it
    in the same transaction, so no other worker takes it in between.
    """
    by = _operator(by)
    if message and message.strip():  # refused before the run moves: nothing half done
        _check_guidance_length(message.strip())
    run = storage.get_run(store, run_id=run_id)
    if run.status not in RESUMABLE_STATUSES:
        raise ControlError(
            f"run {run.id} is {run.status}; only paused, interrupted, halted or failed runs resume"
        )
    try:
        # One transaction: if a halt lands first, this resume is refused instead of undoing it.
        resumed = storage.requeue_run(
            store,
            run_id=run.id,
            expect_status=seen_status or run.status,
            clear_stops=True,
            by=by,
            more=_more_budget(run, extra_steps, extra_seconds, extra_tokens, extra_cost_usd),
            claimed_by=claimed_by,
            lease_seconds=lease_seconds,
        )
    except storage.InvalidState as error:
        raise ControlError(str(error)) from error
    if message and message.strip():
        storage.send_command(
            store,
            run_id=run.id,
            kind="guidance",
            payload={"message": message.strip()},
            created_by=by,
        )
    return resumed


def _more_budget(run: Run, steps: int, seconds: float, tokens: int, cost: float) -> dict[str, Any]:
    """Raise any spent budget enough that the resumed run can take at least a few more steps."""
    fields: dict[str, Any] = {}
    if steps or run.steps >= run.max_steps:
        fields["max_steps"] = max(run.max_steps, run.steps) + (steps or 10)
    if seconds or run.active_seconds >= run.max_seconds:
        fields["max_seconds"] = max(run.max_seconds, run.active_seconds) + (seconds or 300.0)
    used_tokens = run.tokens_in + run.tokens_out
    if run.max_tokens is not None and (tokens or used_tokens >= run.max_tokens):
        fields["max_tokens"] = max(run.max_tokens, used_tokens) + (tokens or run.max_tokens)
    if run.max_cost_usd is not None and (cost or run.cost_usd >= run.max_cost_usd):
        fields["max_cost_usd"] = max(run.max_cost_usd, run.cost_usd) + (cost or run.max_cost_usd)
    return fields


def rerun(store: storage.Store, *, run_id: str, by: str | Person, **overrides: Any) -> Run:
    """A new run with the same goal and settings, changed by `overrides`."""
    by = _operator(by)
    run = storage.get_run(store, run_id=run_id)
    settings: dict[str, Any] = {
        "goal": run.goal,
        "model": run.model,
        "model_name": run.model_name,
        "autonomy": run.autonomy,
        "tools": run.tools,
        "max_steps": run.max_steps,
        "max_seconds": run.max_seconds,
        "max_tokens": run.max_tokens,
        "max_cost_usd": run.max_cost_usd,
        "policy": run.policy,
        "seed_from": run.seed_from,  # a fresh copy of the same folder
    }
    if run.own_workspace:  # the person's own folder again
        settings["workspace"] = run.workspace
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return storage.create_run(store, parent_run_id=run.id, created_by=by, **settings)
