"""Runs: creating, finding and listing them, and the worker's claim/lease protocol."""

from __future__ import annotations

import copy
import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from storage.clock import db_now
from storage.driver_sql import driver_transaction
from storage.engine import Store, read_session, reading, shown_url, write_session, writing
from storage.errors import AmbiguousId, InvalidState, NotFound, StoreError
from storage.events import append_in, no_run
from storage.fence import Fence, refused
from storage.goal_search import goal_contains
from storage.halts import consume_halts, halt_pending_for, halted_by, pending_halt_by
from storage.identity import check_same_as
from storage.models import Approval, Command, Run, SchemaMigration, table_of, utcnow
from storage.record import Status
from storage.versions import check_version, refuse_unknown
from storage.vocabulary import (
    AUTONOMY_LEVELS,
    DRIVEN,
    RESUMABLE_STATUSES,
    RUN_STATUSES,
    USAGE_NAMES,
    RunStatus,
)

_runs = table_of(Run)
_commands = table_of(Command)
_approvals = table_of(Approval)
_migrations = table_of(SchemaMigration)
MIN_PREFIX = 4
ID_MAX = 32  # Run.id's max_length
LEASE_LOST_REASON = "worker lost (lease expired)"
STORE_LOST_REASON = "the database went away while the run was driven"
# Interrupted for these reasons, a run is resumed by any worker without a person when the step
# in flight is safe to repeat (agent_core.run.unfinished_calls); otherwise a person resumes it.
AUTO_RECOVERABLE = (LEASE_LOST_REASON, STORE_LOST_REASON)
# Fields update_run may set; id, seq and creation are the store's business.
UPDATABLE = frozenset(_runs.c.keys()) - {"id", "last_seq", "created_at"}


MAX_GOAL_CHARS = 8000  # a goal states what to achieve; long material belongs in the workspace


def _validate_new_run(goal: str, autonomy: str, max_steps: int, max_seconds: float) -> str:
    goal = (goal or "").strip()
    if not goal:
        raise StoreError("the goal is empty; describe what the agent should achieve")
    if len(goal) > MAX_GOAL_CHARS:
        raise StoreError(
            f"the goal is {len(goal):,} characters; the limit is {MAX_GOAL_CHARS:,}. State the "
            "goal briefly and put long material in a file in the run's workspace"
        )
    if autonomy not in AUTONOMY_LEVELS:
        levels = ", ".join(AUTONOMY_LEVELS)
        raise StoreError(f"unknown autonomy {autonomy!r}; choose one of {levels}")
    if max_steps < 1:
        raise StoreError(f"max_steps must be at least 1 (got {max_steps})")
    if max_seconds <= 0:
        raise StoreError(f"max_seconds must be more than 0 (got {max_seconds})")
    return goal


def _validate_folders(workspace: str | None, seed_from: str | None) -> None:
    if workspace and seed_from:
        raise StoreError(
            "choose either a folder to work in or a folder to copy in, not both (the copy-in "
            "mode works in a fresh per-run folder)"
        )
    for name, folder in (("workspace", workspace), ("seed_from", seed_from)):
        if folder is not None and not PurePath(folder).is_absolute():
            raise StoreError(f"{name} must be an absolute path (got {folder!r})")


def create_run(
    store: Store,
    *,
    goal: str,
    model: str = "demo",
    model_name: str = "demo",
    autonomy: str = "supervised",
    tools: Sequence[str] | None = None,
    max_steps: int = 30,
    max_seconds: float = 600.0,
    max_tokens: int | None = None,
    max_cost_usd: float | None = None,
    policy: dict[str, Any] | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    workspace: str | None = None,
    seed_from: str | None = None,
    claimed_by: str | None = None,
    lease_seconds: float = 30.0,
) -> Run:
    """A new queued run (and its first "status" event).

    `workspace`: the person's own folder to work in (absolute), checked by the caller; default a
    fresh per-run folder named by the run's id, which starts as a copy of `seed_from` if given.
    `claimed_by`: a driver's worker id: the run is created already claimed by it (running, with
    a lease of `lease_seconds`), in the same transaction, so no worker can take it in between
    (`onloop run` drives its own run with its own model settings).
    """
    goal = _validate_new_run(goal, autonomy, max_steps, max_seconds)
    _validate_folders(workspace, seed_from)
    run_id = uuid.uuid4().hex[:12]
    run = Run(
        id=run_id,
        goal=goal,
        model=model,
        model_name=model_name,
        autonomy=autonomy,
        status="queued",
        tools=list(tools) if tools is not None else None,
        max_steps=max_steps,
        max_seconds=max_seconds,
        max_tokens=max_tokens,
        max_cost_usd=max_cost_usd,
        policy=copy.deepcopy(policy),
        workspace=workspace or str(store.workspace_root / run_id),
        seed_from=seed_from,
        parent_run_id=parent_run_id,
        created_by=created_by,
    )
    if claimed_by is not None:
        _claimed(run, claimed_by, lease_seconds, waiting=False)
    with write_session(store) as session:
        if claimed_by is not None:
            check_version(session.connection())
        session.add(run)
        session.flush()
        _flushed(session, run)
        queued = Status(status=RunStatus.QUEUED, reason=None)
        seq = append_in(session.connection(), run_id=run_id, **queued.row())
        set_committed_value(run, "last_seq", seq)  # the Core bump is already in the database
    return run


def _claimed(run: Run, worker_id: str, lease_seconds: float, *, waiting: bool) -> None:
    """Set `run` claimed by `worker_id` (a new epoch, a lease, this session's start), as _claim
    does for a queued run; waiting when an approval is pending."""
    now = utcnow()
    run.status = (RunStatus.WAITING if waiting else RunStatus.RUNNING).value
    run.worker_id, run.claim_epoch = worker_id, (run.claim_epoch or 0) + 1
    run.lease_expires_at = db_now(lease_seconds)  # type: ignore[assignment]  # SQL; see _flushed
    run.started_at = run.updated_at = now


def _flushed(session: Any, run: Run) -> None:
    """After the flush of a run `_claimed` set: read back the lease the database computed."""
    if run.worker_id is not None:
        session.refresh(run, ["lease_expires_at"])


def get_run(store: Store, *, run_id: str) -> Run:
    """The run with this id, or with this unique id prefix (at least 4 characters)."""
    with read_session(store) as session:
        run = session.get(Run, run_id)
        if run is not None:
            return run
        # A prefix no longer than an id (a 100,000-character one from a link made SQLite
        # refuse the search: "LIKE or GLOB pattern too complex").
        if MIN_PREFIX <= len(run_id) <= ID_MAX:
            query = select(Run).where(col(Run.id).startswith(run_id, autoescape=True)).limit(2)
            found = list(session.scalars(query))
            if len(found) == 1:
                return found[0]
            if found:
                raise AmbiguousId(
                    f"run id prefix {run_id} matches several runs; give more of the id"
                )
    if len(run_id) < MIN_PREFIX:  # "no run with id 69" while `onloop runs` shows 692ee276da49
        raise NotFound(
            f"no run with id '{run_id}'; give at least {MIN_PREFIX} characters of a run's id "
            "(`onloop runs` lists them)"
        )
    raise no_run(run_id)


def run_statuses(store: Store, *, run_ids: Sequence[str]) -> dict[str, str]:
    """The status of each of these runs, in one read (a worker's poll over its active runs)."""
    if not run_ids:
        return {}
    query = select(_runs.c.id, _runs.c.status).where(_runs.c.id.in_(list(run_ids)))
    with reading(store) as conn:
        return {row[0]: row[1] for row in conn.execute(query)}


def _filters(
    conn: Connection,
    status: str | Sequence[str] | None,
    model: str | Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    search: str | None,
) -> list[ColumnElement[bool]]:
    """WHERE clauses shared by list_runs and count_runs."""
    clauses: list[ColumnElement[bool]] = []
    if status:
        clauses.append(_runs.c.status.in_([status] if isinstance(status, str) else list(status)))
    if model:
        models = [model] if isinstance(model, str) else list(model)
        clauses.append(or_(_runs.c.model.in_(models), _runs.c.model_name.in_(models)))
    if since is not None:
        clauses.append(_runs.c.created_at >= since)
    if until is not None:
        clauses.append(_runs.c.created_at < until)
    if search and search.strip():
        clauses += goal_contains(conn, search.strip())
    return clauses


def list_runs(
    store: Store,
    *,
    status: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Run]:
    """Runs newest first. `model` matches the provider or the model name; since <= t < until."""
    newest_first = (_runs.c.created_at.desc(), _runs.c.id.desc())
    with read_session(store) as session:
        # Ids first: a deep page skips `offset` entries of ix_runs_created_at_id, not whole rows.
        page = (
            select(_runs.c.id)
            .where(*_filters(session.connection(), status, model, since, until, search))
            .order_by(*newest_first)
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        query = select(Run).join(page, col(Run.id) == page.c.id).order_by(*newest_first)
        return list(session.scalars(query))


def first_run_in(store: Store, *, workspace: str, other_than: str) -> datetime | None:
    """When the first run in `workspace` other than `other_than` was created (None: no other
    run has worked there). A person's own folder is used by many runs in turn, and each may
    leave files behind for the next."""
    with read_session(store) as session:
        query = select(func.min(_runs.c.created_at)).where(
            _runs.c.workspace == workspace, _runs.c.id != other_than
        )
        return session.scalar(query)


def count_runs(
    store: Store,
    *,
    status: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
) -> int:
    with read_session(store) as session:
        clauses = _filters(session.connection(), status, model, since, until, search)
        query = select(func.count()).select_from(_runs).where(*clauses)
        return int(session.scalar(query) or 0)


def update_run(store: Store, *, run_id: str, fence: Fence | None = None, **fields: Any) -> None:
    """Set fields of a run (status, result, reason, timestamps, totals); also sets updated_at.
    Given a driver's `fence`, only while its claim holds (else LeaseLost)."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise TypeError(f"update_run cannot set {', '.join(sorted(unknown))}")
    if "status" in fields and fields["status"] not in RUN_STATUSES:
        raise StoreError(f"unknown run status {fields['status']!r}")
    values = {"updated_at": utcnow(), **fields}
    held = () if fence is None else fence.clauses()
    with writing(store) as conn:
        changed = update(_runs).where(_runs.c.id == run_id, *held).values(values)
        if conn.execute(changed).rowcount == 0:
            raise refused(conn, run_id, fence)


def add_usage(
    store: Store,
    *,
    run_id: str,
    steps: int = 0,
    tool_calls: int = 0,
    tokens_in: int = 0,
    tokens_out: int = 0,
    cost_usd: float = 0.0,
    fence: Fence | None = None,
) -> None:
    """Add to a run's usage totals in one atomic UPDATE (no read-modify-write); given the
    driver's `fence`, only while its claim holds (else LeaseLost)."""
    amounts = dict(
        zip(USAGE_NAMES, (steps, tool_calls, tokens_in, tokens_out, cost_usd), strict=True)
    )
    values: dict[str, Any] = {name: _runs.c[name] + amount for name, amount in amounts.items()}
    values["updated_at"] = utcnow()
    held = () if fence is None else fence.clauses()
    with writing(store) as conn:
        added = update(_runs).where(_runs.c.id == run_id, *held).values(values)
        if conn.execute(added).rowcount == 0:
            raise refused(conn, run_id, fence)


def claim_next_run(store: Store, *, worker_id: str, lease_seconds: float) -> Run | None:
    """Take the oldest queued run for this worker, or None. No two workers get the same run."""
    taken = claim_next_runs(store, worker_id=worker_id, lease_seconds=lease_seconds, limit=1)
    return taken[0] if taken else None


def claim_next_runs(store: Store, *, worker_id: str, lease_seconds: float, limit: int) -> list[Run]:
    """Take up to `limit` of the oldest queued runs for this worker, oldest first, in one
    transaction (a worker with a hundred free slots claims a hundred runs at once, not one by
    one behind the runs it already started). No two workers get the same run."""
    return _claim(store, _NEXT_QUEUED, {"n": max(1, limit)}, worker_id, lease_seconds)


def has_claimable_run(store: Store) -> bool:
    """Whether a queued run waits for a worker: one indexed read, cheap enough to poll often."""
    with reading(store) as conn:
        return conn.execute(_ANY_CLAIMABLE).first() is not None


def claim_run(store: Store, *, run_id: str, worker_id: str, lease_seconds: float) -> Run | None:
    """Take this queued run (e.g. the CLI drives the run it just queued), or None if taken."""
    taken = _claim(store, _THIS_QUEUED, {"rid": run_id}, worker_id, lease_seconds)
    return taken[0] if taken else None


# A run is claimable while it is queued and no halt waits for it. The claim is a conditional
# UPDATE on both, in the same transaction as control.halt's row lock orders it against.
_CLAIMABLE = (_runs.c.status == "queued", ~halt_pending_for(_runs.c.id))
_ANY_CLAIMABLE = select(_runs.c.id).where(*_CLAIMABLE).limit(1)
# SQLite: BEGIN IMMEDIATE serialises claimers. PostgreSQL: SKIP LOCKED lets claimers pass
# each other's locked rows (and a halt's) instead of queueing behind them.
_NEXT_QUEUED = (
    select(_runs.c.id)
    .where(*_CLAIMABLE)
    .order_by(_runs.c.created_at, _runs.c.id)
    .limit(bindparam("n"))
    .with_for_update(skip_locked=True)
)
_THIS_QUEUED = (
    select(_runs.c.id)
    .where(_runs.c.id == bindparam("rid"), *_CLAIMABLE)
    .with_for_update(skip_locked=True)
)
_MIGRATIONS = select(_migrations.c.version, _migrations.c.applied_at).order_by(
    _migrations.c.version
)
# A run resumed with a pending approval goes on waiting for it: never "running" beside it.
_ASKING = exists().where(_approvals.c.run_id == _runs.c.id, _approvals.c.status == "pending")
_RUN_ROW = select(*_runs.c).where(_runs.c.id == bindparam("rid"))


@functools.lru_cache(maxsize=8)
def _take(lease_seconds: float) -> Any:
    """The claim of one run (its id `rid`): its status, worker and lease, and a new epoch (the
    session's fence), if it is still claimable. One statement per lease length (a constant)."""
    return (
        update(_runs)
        .where(_runs.c.id == bindparam("rid"), *_CLAIMABLE)
        .values(
            status=case((_ASKING, RunStatus.WAITING.value), else_=RunStatus.RUNNING.value),
            worker_id=bindparam("claimer"),
            claim_epoch=_runs.c.claim_epoch + 1,
            lease_expires_at=db_now(lease_seconds),  # the database's clock (storage.clock)
            started_at=bindparam("now"),  # this session's start; earlier ones: active_seconds
            updated_at=bindparam("now"),
        )
    )


def _claim(
    store: Store, query: Any, values: dict[str, Any], worker_id: str, lease_seconds: float
) -> list[Run]:
    """The claim of the runs `query` selects, in one transaction on the driver (a claim comes
    for each launch: a few statements compiled once, not an ORM session); the runs taken, in
    the query's order, as they are now."""
    take = _take(float(lease_seconds))
    moment = {"claimer": worker_id, "now": utcnow()}
    with driver_transaction(store) as tx:
        migrations = tx.processed_rows(_MIGRATIONS, {})
        # a newer onloop's store: no claim (StoreNewer); nor one that replaced ours (StoreChanged)
        refuse_unknown({row[0] for row in migrations}, lambda: shown_url(store.url))
        check_same_as(store, lambda: migrations[0][1].isoformat() if migrations else None)
        run_ids = [row[0] for row in tx.rows(query, values)]
        taken = [i for i in run_ids if tx.changed(take, {**moment, "rid": i}) == 1]
        rows = [tx.processed_rows(_RUN_ROW, {"rid": i})[0] for i in taken]
    names = [column.key for column in _runs.c]
    return [Run(**dict(zip(names, row, strict=True))) for row in rows]


def _asking_a_person(session: Any, run_ids: list[str]) -> set[str]:
    """Which of these runs have an approval pending (one read)."""
    pending = select(col(Approval.run_id)).where(
        col(Approval.run_id).in_(run_ids), col(Approval.status) == "pending"
    )
    return set(session.scalars(pending.distinct()))


def renew_lease(
    store: Store, *, run_id: str, worker_id: str, lease_seconds: float, epoch: int | None = None
) -> bool:
    """Extend this worker's lease (of the claim with this epoch, if given); False when the run
    is no longer this worker's."""
    query = (
        update(_runs)
        .where(_runs.c.id == run_id, *Fence(worker_id, epoch).clauses())
        .values(lease_expires_at=db_now(lease_seconds), updated_at=utcnow())
    )
    with writing(store) as conn:
        return conn.execute(query).rowcount > 0


RENEW_CHUNK = 400  # claims renewed by one statement (two bound values each)


def renew_leases(
    store: Store, *, worker_id: str, claims: Sequence[tuple[str, int]], lease_seconds: float
) -> set[str]:
    """Extend this worker's leases of these claims (run id, claim epoch) in one transaction, a
    statement per RENEW_CHUNK claims (a heartbeat of three hundred runs: one commit, not three
    hundred); the ids whose claim still holds. A run taken over (another worker, a newer
    claim) is left alone and left out."""
    if not claims:
        return set()
    now, lease = utcnow(), db_now(lease_seconds)
    kept: set[str] = set()
    with writing(store) as conn:
        for start in range(0, len(claims), RENEW_CHUNK):
            chunk = list(claims[start : start + RENEW_CHUNK])
            ours = (
                _runs.c.worker_id == worker_id,
                tuple_(_runs.c.id, _runs.c.claim_epoch).in_(chunk),
            )
            renew = update(_runs).where(*ours).values(lease_expires_at=lease, updated_at=now)
            if conn.dialect.update_returning:
                kept.update(conn.execute(renew.returning(_runs.c.id)).scalars())
            else:  # SQLite before 3.35: the write lock is ours, so read-then-write is safe
                kept.update(conn.execute(select(_runs.c.id).where(*ours)).scalars())
                conn.execute(renew)
    return kept


def release_run(store: Store, *, run_id: str, worker_id: str) -> None:
    """Give the run up (it ended or paused): clears worker and lease if they are still ours."""
    query = (
        update(_runs)
        .where(_runs.c.id == run_id, _runs.c.worker_id == worker_id)
        .values(worker_id=None, lease_expires_at=None, updated_at=utcnow())
    )
    with writing(store) as conn:
        conn.execute(query)


def expire_leases(store: Store, *, now: datetime | None = None) -> list[str]:
    """Running or waiting runs whose lease lapsed become "interrupted" (or "halted", when a halt
    waits for them: nobody will drive them again to honour it); returns their ids. Lapsed by the
    database's clock (storage.clock), whatever this process's says; `now`: by this moment instead
    (tests look into the future with it)."""
    deadline = db_now() if now is None else now
    now = utcnow()
    lapsed = (_runs.c.status.in_(DRIVEN), _runs.c.lease_expires_at < deadline)
    expired: list[str] = []
    with reading(store) as conn:  # every worker asks twice a second: a write only when needed
        if conn.execute(select(_runs.c.id).where(*lapsed).limit(1)).first() is None:
            return expired
    with writing(store) as conn:
        for run_id in conn.scalars(select(_runs.c.id).where(*lapsed)).all():
            by = pending_halt_by(conn, run_id)
            ending = session_ending(by, "interrupted", LEASE_LOST_REASON, now)
            ending.update(worker_id=None, lease_expires_at=None, updated_at=now)
            interrupt = update(_runs).where(_runs.c.id == run_id, *lapsed).values(ending)
            if conn.execute(interrupt).rowcount:
                ended = Status(status=ending["status"], reason=ending["reason"])
                append_in(conn, run_id=run_id, **ended.row())
                expired.append(run_id)
    return expired


def session_ending(
    by: str | None, status: str, reason: str | None, now: datetime
) -> dict[str, Any]:
    """How a session ends: as asked, or halted when a halt (asked by `by`) is pending."""
    if by is None:
        return {"status": status, "reason": reason}
    return {"status": "halted", "reason": halted_by(by), "finished_at": now}


def requeue_run(
    store: Store,
    *,
    run_id: str,
    reset_budget: bool = False,
    expect_status: str | None = None,
    clear_stops: bool = False,
    more: dict[str, Any] | None = None,
    by: str | None = None,
    claimed_by: str | None = None,
    lease_seconds: float = 30.0,
) -> Run:
    """Queue a paused/interrupted/halted/failed run again so a worker resumes it from its events.

    One transaction. reset_budget zeroes the usage totals (steps, tool calls, tokens, cost, active
    time) so the run's budgets apply afresh; `more` sets fields (raised budgets). expect_status
    refuses (InvalidState) when the run is no longer in the status the caller saw (a halt came
    first). clear_stops consumes pending halt and pause commands (a person resumes a stopped
    run); without it a pending halt ends the run `halted` instead of queueing it. `by`, the
    person who resumed it, is recorded in the status event. `claimed_by`: the run is claimed
    by this driver in the same transaction (as create_run's), so no worker takes it in between.
    """
    if set(more or {}) - UPDATABLE:
        raise TypeError(f"requeue_run cannot set {', '.join(sorted(set(more or {}) - UPDATABLE))}")
    with write_session(store) as session:
        run = session.get(Run, run_id, with_for_update=True)
        if run is None:
            raise no_run(run_id)
        if expect_status and run.status != expect_status:
            raise InvalidState(
                f"run {run_id} became {run.status} meanwhile (it was {expect_status}); "
                "look at it again before resuming it"
            )
        if run.status not in RESUMABLE_STATUSES:
            raise InvalidState(
                f"run {run_id} is {run.status}; only a paused, interrupted, halted or failed "
                "run can be resumed"
            )
        conn = session.connection()
        if clear_stops:
            stops = (_commands.c.run_id == run_id, _commands.c.consumed_at.is_(None))
            kinds = _commands.c.kind.in_(("halt", "pause"))
            conn.execute(update(_commands).where(*stops, kinds).values(consumed_at=utcnow()))
        halted_by = pending_halt_by(conn, run_id)
        if halted_by is not None:
            return _halt_instead(session, run, halted_by)
        for name, value in (more or {}).items():
            setattr(run, name, value)
        run.status, run.worker_id, run.lease_expires_at = "queued", None, None
        run.reason, run.finished_at, run.updated_at = None, None, utcnow()
        if reset_budget:
            for name in (*USAGE_NAMES, "active_seconds"):
                setattr(run, name, 0)
        if claimed_by is not None:
            check_version(conn)
            waiting = bool(_asking_a_person(session, [run_id]))
            _claimed(run, claimed_by, lease_seconds, waiting=waiting)
        session.flush()
        _flushed(session, run)
        resumed = Status(status=RunStatus.QUEUED, reason=None, resumed=True, by=by)
        seq = append_in(conn, run_id=run_id, **resumed.row())
        set_committed_value(run, "last_seq", seq)
    return run


def _halt_instead(session: Any, run: Run, by: str) -> Run:
    conn = session.connection()
    consume_halts(conn, run.id)
    run.status, run.reason, run.worker_id, run.lease_expires_at = (
        "halted",
        halted_by(by),
        None,
        None,
    )
    run.finished_at = run.updated_at = utcnow()
    session.flush()
    halted = Status(status=RunStatus.HALTED, reason=run.reason)
    set_committed_value(run, "last_seq", append_in(conn, run_id=run.id, **halted.row()))
    return run
