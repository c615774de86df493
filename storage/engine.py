"""Opening the store: the database URL, the engine, SQLite pragmas and write transactions."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from storage.durability import set_sqlite_synchronous, sqlite_synchronous, sync_commit_on, sync_full
from storage.errors import StoreError
from storage.held_writer import HeldWriter
from storage.identity import StoreIdentity, identify
from storage.pool_ping import ping_when_idle
from storage.private_files import private_store_file
from storage.schema import READ_ONLY
from storage.versions import migrate

DATABASE_URL_ENV = "ONLOOP_DATABASE_URL"
WORKSPACES_ENV = "ONLOOP_WORKSPACES"
BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 10
SQLITE_POOL_OVERFLOW = 90
# Connections checked out with this option start a plain (deferred) transaction: readers in WAL
# mode never block writers, so they must not take the write lock that BEGIN IMMEDIATE takes.


def json_dumps(value: Any) -> str:
    """The store's JSON serialiser (engine-wide and on the SQLite fast path)."""
    return json.dumps(value, default=str)  # datetimes and other oddities become strings


@dataclass(eq=False)
class Store:
    """An open store: the engine plus what callers need to know about it."""

    engine: Engine
    url: str
    workspace_root: Path
    reader: Engine = field(init=False, repr=False)
    # SQLite has one writer at a time. Its busy handler makes a blocked writer sleep 1, 2, 5 ...
    # 100 ms between tries, so a hundred threads of one process queuing on the write lock wait far
    # longer than the lock is held. They queue on this lock instead, woken the moment it is free;
    # other processes still meet SQLite's own lock. None for PostgreSQL (row locks suffice).
    write_gate: threading.RLock | None = field(init=False, repr=False)
    # Which store this is (storage.identity): taken on open, checked before every claim.
    identity: StoreIdentity | None = field(default=None, repr=False)

    # The connection the driver path's gated writes keep (storage.held_writer): a SQLite file.
    held_writer: HeldWriter | None = field(default=None, init=False, repr=False)
    # PostgreSQL: an event's write is one call of the store's function (storage.server_steps);
    # False takes the driver path (a store without the function, or a test comparing both).
    server_steps: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reader = self.engine.execution_options(**{READ_ONLY: True})
        self.write_gate = threading.RLock() if self.engine.dialect.name == "sqlite" else None
        if self.write_gate is not None and not isinstance(self.engine.pool, StaticPool):
            engine = self.engine
            self.held_writer = HeldWriter(self.write_gate, lambda: engine.pool)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        if self.held_writer is not None:
            self.held_writer.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Store({self.safe_url!r})"


def _looks_like_url(value: str) -> bool:
    return "://" in value


def database_url(db: str | None = None) -> str:
    """`db` (a path or URL) wins, then env ONLOOP_DATABASE_URL, then ./onloop.db."""
    chosen = db or os.environ.get(DATABASE_URL_ENV) or str(Path.cwd() / "onloop.db")
    if _looks_like_url(chosen) or chosen == ":memory:":
        return "sqlite://" if chosen == ":memory:" else chosen
    return f"sqlite:///{Path(chosen).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None (in-memory or another database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def workspace_root_for(url: str) -> Path:
    if os.environ.get(WORKSPACES_ENV):
        return Path(os.environ[WORKSPACES_ENV]).expanduser().resolve()
    path = sqlite_path(url)
    return (path.parent if path else Path.cwd()) / "onloop-workspaces"


def shown_url(url: str) -> str:
    """The URL as it may appear on screen: the file for SQLite, never a password."""
    try:
        return str(sqlite_path(url) or make_url(url).render_as_string(hide_password=True))
    except ArgumentError:  # not even a URL; still mask anything shaped like user:password@
        return re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", url)


def cannot_open(url: str, problem: object) -> StoreError:
    # One line: a driver's message may run over several ("Connection refused\n\tIs the server
    # running on that host ...?"), which the command line would show as \x0a\x09.
    said = " ".join(str(problem).split())
    return StoreError(
        f"cannot open database at {shown_url(url)}: {said}; pass --db PATH to a writable "
        f"file or set {DATABASE_URL_ENV}"
    )


def _no_driver(url: str, error: Exception) -> StoreError:
    """A URL whose scheme SQLAlchemy has no dialect for ("Can't load plugin"), or whose driver is
    not installed ("No module named 'MySQLdb'"), said in onloop's words."""
    scheme = url.split("://", 1)[0]
    if isinstance(error, NoSuchModuleError):
        return cannot_open(
            url, f"no database speaks {scheme}://; use a SQLite file or postgresql://"
        )
    return cannot_open(
        url, f"{error} (install the {scheme} driver, or use SQLite or postgresql://)"
    )


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite transaction hooks when it is SQLite."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            engine = create_engine(url, json_serializer=json_dumps)
            if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg":
                event.listen(engine, "connect", text_any_column_takes)
            ping_when_idle(engine)  # not a round trip per checkout (storage/pool_ping.py)
            _forget_pool_after_fork(engine)
            return engine
        path = sqlite_path(url)
        if path is not None:
            private_store_file(path)  # 0600 before SQLite opens it; its -wal/-shm follow
            engine = create_engine(
                url,
                json_serializer=json_dumps,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
                # A worker's runs read at once (writes take turns, write_turn): a SQLite
                # connection is a file handle and a small cache, so keep enough of them.
                pool_size=SQLITE_POOL_SIZE,
                max_overflow=SQLITE_POOL_OVERFLOW,
                # The connection back last goes out first: a few stay busy and warm instead of
                # all ten taking turns (docs/benchmarks.md, seventh round: 4.83 -> 4.63 ms a call).
                pool_use_lifo=True,
            )
        else:  # one shared in-memory database: every checkout must see the same connection
            engine = create_engine(
                url,
                json_serializer=json_dumps,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
    except (ImportError, NoSuchModuleError) as error:
        raise _no_driver(url, error) from error
    except (ArgumentError, OSError, ValueError) as error:
        raise cannot_open(url, error) from error
    _install_sqlite_hooks(engine, sqlite_synchronous())
    _forget_pool_after_fork(engine)
    return engine


def text_any_column_takes(dbapi_connection: Any, _record: Any) -> None:
    """On each new psycopg connection: a string with a NUL (PostgreSQL's text holds none) or a
    lone surrogate (not UTF-8) is sent with U+FFFD in their place instead of failing the write.
    Such text comes from a model or a tool (a command, a path, a reason quoting them) and must
    not end a run or lose its record; JSON payloads keep it exactly (escaped)."""
    from storage.driver_text import StoredText

    dbapi_connection.adapters.register_dumper(str, StoredText)


def _forget_pool_after_fork(engine: Engine) -> None:
    """A forked child must not share the parent's open connections (SQLAlchemy's advice)."""
    ref = weakref.ref(engine)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)


def _install_sqlite_hooks(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver's own implicit BEGIN must stay off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # NORMAL unless ONLOOP_SQLITE_SYNCHRONOUS=full; durable transactions run FULL
            set_sqlite_synchronous(dbapi_connection, record.info, synchronous)
            # Switching to WAL needs an exclusive lock; only ask when the file is not WAL yet.
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so they wait (busy_timeout) instead of failing
        # with "database is locked" when a deferred transaction tries to upgrade.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def write_turn(store: Store) -> Iterator[None]:
    """This thread's turn to write (see Store.write_gate); on SQLite, held around every write
    transaction of the process. A turn not given within the busy timeout fails as SQLite's own
    lock would: "database is locked", which callers already treat as a transient error."""
    gate = store.write_gate
    if gate is None:
        yield
        return
    if not gate.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
        cause = sqlite3.OperationalError("database is locked")
        raise DBAPIError.instance("BEGIN IMMEDIATE", (), cause, sqlite3.Error)
    try:
        yield
    finally:
        gate.release()


@contextmanager
def writing(store: Store, *, durable: bool = False) -> Iterator[Connection]:
    """A Core connection in a write transaction (BEGIN IMMEDIATE on SQLite), committed on exit;
    `durable`: on disk when this returns (storage.durability: a decision, a halt)."""
    if not durable:
        with write_turn(store), store.engine.begin() as conn:
            yield conn
        return
    with write_turn(store), store.engine.connect() as conn:
        with sync_full(conn.connection), conn.begin():
            sync_commit_on(conn.connection, conn.exec_driver_sql)
            yield conn


@contextmanager
def reading(store: Store) -> Iterator[Connection]:
    """A Core connection for reads; never takes the write lock."""
    with store.reader.connect() as conn:
        yield conn


@contextmanager
def write_session(store: Store, *, durable: bool = False) -> Iterator[Session]:
    """An ORM session in one write transaction, committed on exit; objects stay loaded after.
    `durable`: on disk when this returns (storage.durability)."""
    if not durable:
        with (
            write_turn(store),
            Session(store.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
        return
    with write_turn(store), store.engine.connect() as conn, sync_full(conn.connection):
        with Session(conn, expire_on_commit=False) as session, session.begin():
            sync_commit_on(conn.connection, session.connection().exec_driver_sql)
            yield session


@contextmanager
def read_session(store: Store) -> Iterator[Session]:
    """An ORM session for reads (no write lock); returned objects are detached and loaded."""
    with Session(store.reader, expire_on_commit=False) as session:
        yield session


def open_store(url: str | None = None) -> Store:
    """Open (and create or upgrade) the store at `url` (default: see database_url)."""

    url = database_url(url)
    engine = make_engine(url)
    try:
        migrate(engine)
    except DBAPIError as error:
        engine.dispose()
        raise cannot_open(url, error.orig or error) from error
    except StoreError:  # a newer store (storage.versions), or no copy before upgrading it
        engine.dispose()
        raise
    try:
        identity = identify(engine)
    except (DBAPIError, OSError) as error:
        engine.dispose()
        raise cannot_open(url, getattr(error, "orig", None) or error) from error
    return Store(engine=engine, url=url, workspace_root=workspace_root_for(url), identity=identity)
