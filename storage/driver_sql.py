"""Write transactions on the pooled driver connection, running Core statements compiled once.

The hot path (an event's append, a step's start) runs a handful of statements per transaction,
and a Core execution costs ~35 us of Python each, several times what the database needs. Here a
statement is still a Core construct (never SQL text pieced together), compiled once per database
and its values go through their columns' own bind processors (SQLAlchemy's datetime text on
SQLite, the store's JSON), so it writes exactly what Core would; only Core's per-execution
machinery is left out. The same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Select

from storage.durability import full_before, normal_after, sync_commit_on
from storage.engine import Store, write_turn

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement as the driver takes it: its SQL, and how values become its parameters."""

    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order (positional drivers)
    fixed: Mapping[str, Any]  # values compiled into the statement (its literals, as binds)
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]  # by parameter name

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self.fixed, **values}
        for name, process in self.processors:
            merged[name] = process(merged[name])
        if self.order is None:
            return merged
        return tuple(map(merged.__getitem__, self.order))  # KeyError: a value not given


_COMPILED: weakref.WeakKeyDictionary[Dialect, dict[ClauseElement, Compiled]] = (
    weakref.WeakKeyDictionary()
)


def _compile(known: dict[ClauseElement, Compiled], dialect: Dialect, statement: Any) -> Compiled:
    found = known.get(statement)
    if found is None:
        done = statement.compile(dialect=dialect)
        binds = done.binds  # type: ignore[attr-defined]
        names = done.params
        processors = []
        for name in names:
            process = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((name, process))
        found = known[statement] = Compiled(
            sql=done.string,
            order=tuple(done.positiontup) if dialect.positional else None,  # type: ignore[attr-defined]
            fixed={name: value for name, value in names.items() if not binds[name].required},
            processors=tuple(processors),
        )
    return found


class DriverTransaction:
    """Statements of one write transaction, run on the driver's cursor."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self._known = _COMPILED.setdefault(dialect, {})
        self.last: tuple[str, Any] = ("", ())  # the statement running, for an error's message

    def execute(self, statement: ClauseElement, values: Mapping[str, Any]) -> Any:
        found = self._known.get(statement) or _compile(self._known, self.dialect, statement)
        self.last = (found.sql, found.parameters(values))
        self.cursor.execute(*self.last)
        return self.cursor

    def rows(self, statement: ClauseElement, values: Mapping[str, Any]) -> list[Any]:
        return self.execute(statement, values).fetchall()

    def changed(self, statement: ClauseElement, values: Mapping[str, Any]) -> int:
        return self.execute(statement, values).rowcount

    def processed_rows(self, statement: Select, values: Mapping[str, Any]) -> list[tuple]:
        """rows, each value as Core gives it (see driver_rows)."""
        return _processed(self.dialect, statement, self.execute(statement, values))


def driver_read(store: Store, statement: ClauseElement, values: Mapping[str, Any]) -> list[Any]:
    """The rows of one read statement, run on a pooled driver connection in no transaction of its
    own: SQLite's connections never BEGIN implicitly here (the engine's connect hook), and a
    PostgreSQL connection runs it in autocommit, one round trip with no BEGIN and ROLLBACK
    around it (as SQLAlchemy's own ping does). One statement reads one consistent snapshot
    either way. Rows come as the driver gives them: no result processing (JSON text on SQLite).
    Errors come out as from Core, as driver_transaction's do."""
    return _read(store, statement, values, lambda cursor: cursor.fetchall())


def driver_autocommit(store: Store, statement: ClauseElement, values: Mapping[str, Any]) -> list:
    """The rows of one statement that is its own transaction: as driver_read, a write too (on
    PostgreSQL, autocommit: one round trip with no BEGIN and COMMIT around it; a function that
    writes, storage.server_steps). Only for PostgreSQL: a SQLite write takes the write gate."""
    if store.engine.dialect.name != "postgresql":
        raise ValueError("driver_autocommit is for PostgreSQL's one-statement transactions")
    return _read(store, statement, values, lambda cursor: cursor.fetchall())


def driver_rows(store: Store, statement: Select, values: Mapping[str, Any]) -> list[tuple]:
    """driver_read's rows, each value as Core gives it: through its column's result processor
    (SQLAlchemy's datetime parsing on SQLite, the store's JSON), found once per statement."""
    dialect = store.engine.dialect
    return _read(store, statement, values, lambda cursor: _processed(dialect, statement, cursor))


def _read(
    store: Store, statement: ClauseElement, values: Mapping[str, Any], take: Callable[[Any], T]
) -> T:
    dialect = store.engine.dialect
    driver_error = dialect.loaded_dbapi.Error
    pooled = _checkout(store)
    raw = pooled.driver_connection
    autocommit = dialect.name == "postgresql"
    read = DriverTransaction(None, dialect)
    try:
        if autocommit:
            raw.autocommit = True
        read.cursor = pooled.cursor()
        try:
            return take(read.execute(statement, values))
        finally:
            read.cursor.close()
    except driver_error as error:
        raise _as_core_error(pooled, error, read) from error
    finally:
        if autocommit:
            try:
                raw.autocommit = False
            except driver_error:  # the connection broke: it was invalidated above
                pass
        pooled.close()  # back to the pool


def _processed(dialect: Dialect, statement: Select, cursor: Any) -> list[tuple]:
    """The cursor's rows through the statement's result processors (as Core picks them: by the
    column's type and the driver's type code, e.g. PostgreSQL's numeric kinds)."""
    rows = cursor.fetchall()
    processors = _result_processors(dialect, statement, cursor.description)
    if not any(processors):
        return [tuple(row) for row in rows]
    return [
        tuple(v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True))
        for row in rows
    ]


_RESULTS: weakref.WeakKeyDictionary[Dialect, dict[Select, tuple]] = weakref.WeakKeyDictionary()


def _result_processors(dialect: Dialect, statement: Select, description: Any) -> tuple:
    """Found at a statement's first run: its columns' types and type codes do not change."""
    known = _RESULTS.setdefault(dialect, {})
    found = known.get(statement)
    if found is None:
        found = known[statement] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(statement.selected_columns, description, strict=True)
        )
    return found


def _checkout(store: Store) -> Any:
    dialect = store.engine.dialect
    driver_error = dialect.loaded_dbapi.Error
    try:  # connect hooks applied: pragmas, no implicit BEGIN
        return store.engine.raw_connection()
    except driver_error as error:  # no connection (the server is away): as Core says it
        raise DBAPIError.instance(
            None, None, error, driver_error, connection_invalidated=True, dialect=dialect
        ) from error


def _as_core_error(pooled: Any, error: Any, done: DriverTransaction) -> Exception:
    """A driver error as SQLAlchemy's DBAPIError, as Core raises it; a lost connection leaves
    the pool."""
    dialect = done.dialect
    lost = dialect.is_disconnect(error, pooled.dbapi_connection, done.cursor)
    if lost:
        pooled.invalidate(error)
    statement, parameters = done.last
    return DBAPIError.instance(
        statement,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )


@contextmanager
def driver_transaction(store: Store, *, durable: bool = False) -> Iterator[DriverTransaction]:
    """A write transaction on a pooled driver connection (BEGIN IMMEDIATE on SQLite, in this
    process's write turn), committed on exit, rolled back on any exception. A driver error comes
    out as SQLAlchemy's DBAPIError, as from Core; a lost connection leaves the pool. `durable`:
    on disk when this returns (storage.durability: the transaction before a tool's effect)."""
    dialect = store.engine.dialect
    driver_error = dialect.loaded_dbapi.Error
    held = store.held_writer
    with write_turn(store):
        pooled = _checkout(store) if held is None else held.take(lambda: _checkout(store))
        transaction = DriverTransaction(None, dialect)
        switched = False
        try:  # a connection closed underneath fails at its cursor: it must leave the pool too
            cursor = transaction.cursor = pooled.cursor()
            switched = durable and full_before(pooled)
            if dialect.name == "sqlite":  # the write lock up front, as Core's begin hook takes it
                transaction.last = ("BEGIN IMMEDIATE", ())
                cursor.execute("BEGIN IMMEDIATE")
            elif durable:
                sync_commit_on(pooled, cursor.execute)
            yield transaction
            transaction.last = ("COMMIT", ())
            pooled.commit()
        except driver_error as error:
            _roll_back(pooled, driver_error)
            raise _as_core_error(pooled, error, transaction) from error
        except BaseException:
            _roll_back(pooled, driver_error)
            raise
        finally:
            if switched:  # after the commit or the rollback: the pragma is not for a transaction
                normal_after(pooled)
            try:
                if transaction.cursor is not None:
                    transaction.cursor.close()
            except driver_error:  # its connection was dropped above
                pass
            if held is None:
                pooled.close()  # back to the pool
            else:  # kept (storage.held_writer), or back to the pool
                held.give_back(pooled)


def _roll_back(pooled: Any, driver_error: type[Exception]) -> None:
    try:
        pooled.rollback()
    except driver_error:  # the connection is gone; the database rolls back on its own
        pass
