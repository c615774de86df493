"""The store is the same store: what a long-running process opened is what it claims from.

A store's identity, taken when it is opened:
- its id: when the store was created, as the first row of `schema_migrations` records it (a row
  written once, with the store; no migration needed). A database dropped and created anew, or
  another store moved into place, has another.
- for a SQLite file, the file itself: its device and inode. The open connections keep the inode
  alive, so no new file can get the same number while this process uses it.

Checks, cheap enough for every claim batch:
- `check_same_store(store)`: one os.stat of the SQLite file (nothing for PostgreSQL): the path
  gone means the file was deleted (the process would go on writing a file nobody can open again);
  another inode means another file was moved into place.
- `check_same_as(store, created)`: inside a claim's transaction, the file again and the store's id
  (one read of one row), so a claim never takes a run from a store that replaced this one.
On a mismatch, StoreChanged: one line saying what happened, the path, and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, event, select
from sqlmodel import col

from storage.errors import StoreError
from storage.models import SchemaMigration
from storage.schema import READ_ONLY

# Set by a supervisor (`onloop up`, `--processes N`) in its children: the identity of the store
# it opened, so a child (re)started after a replacement refuses the new file.
STORE_IDENTITY_ENV = "ONLOOP_STORE_IDENTITY"
HELP = "docs/operations.md, Deleted or replaced store"


class Store(Protocol):
    """What the checks need of storage.engine.Store (which imports this module)."""

    engine: Engine
    identity: StoreIdentity | None


class StoreChanged(StoreError):
    """The store this process opened was deleted or replaced: it stops claiming.

    `kind` says which ("deleted", "replaced by another file", "dropped and created anew"),
    `where` names the file (or the URL without its password)."""

    def __init__(self, message: str, *, kind: str = "", where: str = "") -> None:
        super().__init__(message)
        self.kind, self.where = kind, where


@dataclass(frozen=True)
class StoreIdentity:
    """Which store a process opened: its id and, for SQLite, the file's device and inode."""

    created: str | None
    device: int | None = None
    inode: int | None = None
    where: str = field(default="", compare=False)  # the file, or the URL without a password

    def token(self) -> str:
        """A one-line form for the environment of a child process."""
        return f"{self.created or ''}|{self.device or ''}|{self.inode or ''}"

    @classmethod
    def parse(cls, token: str) -> StoreIdentity:
        created, device, inode = (token.split("|") + ["", "", ""])[:3]
        return cls(created or None, int(device) if device else None, int(inode) if inode else None)


def _store_id(conn: Connection) -> str | None:
    first = select(col(SchemaMigration.applied_at)).order_by(col(SchemaMigration.version))
    found = conn.execute(first.limit(1)).scalar()
    return found.isoformat() if found is not None else None


def _file_of(engine: Engine) -> Path | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database)).expanduser().resolve()


def identify(engine: Engine) -> StoreIdentity:
    """The identity of the store behind `engine` (just opened and migrated)."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        created = _store_id(conn)
    path = _file_of(engine)
    if path is None:
        return StoreIdentity(created, where=engine.url.render_as_string(hide_password=True))
    stat = os.stat(path)
    return StoreIdentity(created, stat.st_dev, stat.st_ino, where=str(path))


def store_identity(store: Store) -> StoreIdentity:
    if store.identity is None:
        store.identity = identify(store.engine)
    return store.identity


def _where(store: Store) -> str:
    return store_identity(store).where


def _deleted(where: str) -> StoreChanged:
    return StoreChanged(
        f"the store at {where} was deleted while this worker was using it (moved away or "
        "removed); stopped claiming runs. What the runs wrote since is in the deleted file "
        "only: put the store back from a backup (or move it back) and start again, or start "
        f"again to begin an empty store there; see {HELP}",
        kind="deleted",
        where=where,
    )


def _replaced(where: str, what: str) -> StoreChanged:
    return StoreChanged(
        f"the store at {where} was {what} while this worker was using it; stopped claiming "
        "runs, nothing was claimed from the new one. Start onloop up / onloop worker again to "
        f"work on the store that is there now; see {HELP}",
        kind=what,
        where=where,
    )


def check_same_file(store: Store, expected: StoreIdentity | None = None) -> None:
    """StoreChanged when the SQLite file is gone or another file stands at its path."""
    expected = expected or store.identity
    if expected is None or expected.inode is None:
        return
    where = _where(store)
    try:
        now = os.stat(where)
    except FileNotFoundError:
        raise _deleted(where) from None
    if (now.st_dev, now.st_ino) != (expected.device, expected.inode):
        raise _replaced(where, "replaced by another file")


def check_same_store(store: Store) -> None:
    """Before a claim batch: the cheap check (one stat for SQLite, nothing for PostgreSQL)."""
    check_same_file(store)


def check_same_as(store: Store, created: Callable[[], str | None]) -> None:
    """The file again, and the store's id (`created`: its first migration's time, as read now)."""
    expected = store.identity
    if expected is None:
        return
    check_same_file(store, expected)
    if created() != expected.created:
        what = "replaced by another file" if expected.inode else "dropped and created anew"
        raise _replaced(_where(store), what)


def check_expected(store: Store, token: str | None) -> None:
    """In a child a supervisor started: StoreChanged when the store it opened is not the one the
    supervisor had opened (the token it passed)."""
    if not token:
        return
    expected = StoreIdentity.parse(token)
    if store_identity(store) == expected:
        return
    raise _replaced(_where(store), "replaced by another file" if expected.inode else "created anew")


def open_no_other_file(store: Store) -> None:
    """SQLite: refuse to open a new connection once the file at the store's path is not the one
    this process opened. Connecting to a deleted store's path would create an empty store there
    ("no such table" in the middle of a run's step); to a replaced one, write into another
    store. Connections already open keep the file they hold; the next poll stops the worker."""
    expected = store_identity(store)
    if expected.inode is None:
        return  # PostgreSQL: the claim checks the store's id (check_same_as)

    @event.listens_for(store.engine, "do_connect")
    def _same_file_first(*_: object) -> None:
        check_same_file(store, expected)
