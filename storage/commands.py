"""Commands: a human's halt, pause, resume or guidance, waiting for the run's worker."""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from storage.driver_sql import driver_read
from storage.engine import Store, read_session, write_session, writing
from storage.errors import InvalidState, NotFound, StoreError
from storage.events import no_run
from storage.fence import Fence, hold
from storage.models import COMMAND_KINDS, Command, Run, table_of, utcnow
from storage.vocabulary import FINISHED_STATUSES

_commands = table_of(Command)


def _check_command(run: Run, kind: str, payload: dict[str, Any]) -> None:
    if kind not in COMMAND_KINDS:
        raise StoreError(f"unknown command {kind!r}; use one of {', '.join(COMMAND_KINDS)}")
    if kind == "revoke" and not isinstance(payload.get("approval_id"), int):
        raise StoreError("revoke needs the approval_id whose allowance is withdrawn")
    if kind == "guidance" and not str(payload.get("message") or "").strip():
        raise StoreError("guidance needs a message: say what the agent should do differently")
    if run.status == "succeeded" or (run.status in FINISHED_STATUSES and kind != "resume"):
        raise InvalidState(f"run {run.id} already {run.status}; there is nothing to {kind}")


def send_command(
    store: Store,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> Command:
    """Leave a command for the run's worker, which picks it up before its next step."""
    payload = copy.deepcopy(payload or {})
    with write_session(store, durable=kind == "halt") as session:  # a halt: on disk at once
        # The run's row lock orders a halt against storage.begin_execution on PostgreSQL (SQLite's
        # BEGIN IMMEDIATE already serialises them): a tool starts either before the halt or never.
        run = session.get(Run, run_id, with_for_update=True)
        if run is None:
            raise no_run(run_id)
        _check_command(run, kind, payload)
        command = Command(run_id=run_id, kind=kind, payload=payload, created_by=created_by)
        session.add(command)
    return command


def pending_commands(store: Store, *, run_id: str) -> list[Command]:
    """Commands not yet consumed, oldest first."""
    query = (
        select(Command)
        .where(col(Command.run_id) == run_id, col(Command.consumed_at).is_(None))
        .order_by(col(Command.created_at), col(Command.id))
    )
    with read_session(store) as session:
        return list(session.scalars(query))


class CommandRow(NamedTuple):
    id: int
    kind: str
    payload: dict[str, Any] | None
    created_by: str | None


_PENDING_ROWS = (
    select(_commands.c.id, _commands.c.kind, _commands.c.payload, _commands.c.created_by)
    .where(_commands.c.run_id == bindparam("rid"), _commands.c.consumed_at.is_(None))
    .order_by(_commands.c.created_at, _commands.c.id)
)


def pending_command_rows(store: Store, *, run_id: str) -> list[CommandRow]:
    """pending_commands as plain rows: one indexed read on the driver (one round trip), what a
    step boundary does."""
    rows = driver_read(store, _PENDING_ROWS, {"rid": run_id})
    return [CommandRow(i, kind, _json(payload), by) for i, kind, payload, by in rows]


def _json(payload: Any) -> dict[str, Any] | None:
    """A JSON column as the driver gives it: text on SQLite, parsed on PostgreSQL."""
    return json.loads(payload) if isinstance(payload, str | bytes) else payload


def command_history(store: Store, *, run_id: str | None = None) -> list[Command]:
    """Every command people sent (consumed or not), oldest first: who steered which run."""
    query = select(Command).order_by(col(Command.created_at), col(Command.id))
    if run_id is not None:
        query = query.where(col(Command.run_id) == run_id)
    with read_session(store) as session:
        return list(session.scalars(query))


def consume_command(
    store: Store, *, command_id: int, run_id: str | None = None, fence: Fence | None = None
) -> None:
    """Mark a command as handled; consuming it twice is harmless. Given the driver's `fence`
    (and the command's run), only while its claim on the run holds (else LeaseLost)."""
    consume = (
        update(_commands)
        .where(_commands.c.id == command_id, _commands.c.consumed_at.is_(None))
        .values(consumed_at=utcnow())
    )
    with writing(store) as conn:
        if run_id is not None:
            hold(conn, run_id, fence)
        if conn.execute(consume).rowcount == 0:
            exists = conn.scalar(select(_commands.c.id).where(_commands.c.id == command_id))
            if exists is None:
                raise NotFound(f"no command with id {command_id}")
