"""One `onloop up` per store. A SQLite store gets a lock file beside it (`onloop.db.up.lock`)
holding an flock and the holder's pid, address and start: the kernel frees the flock when its
process dies, so a crashed `up`'s file is found stale and cleared. A PostgreSQL store gets a
session advisory lock on a connection held open, named (application_name) with the same facts;
the server frees it when the process or its connection dies."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_core.cli.errors import fail
from storage.engine import Store, sqlite_path

LOCK_SUFFIX = ".up.lock"
# pg_try_advisory_lock's key: "onloop up" in a bigint, shared by every onloop on the database.
ADVISORY_KEY = int.from_bytes(b"onloopup", "big") & 0x7FFF_FFFF_FFFF_FFFF
APP_NAME = "onloop up"


@dataclass
class UpLock:
    """Held while `onloop up` runs; close() as it stops."""

    path: Path | None = None
    fd: int | None = None
    connection: Any = None  # PostgreSQL: the connection that holds the advisory lock
    cleared: str | None = None  # a crashed predecessor's lock, found and cleared (SQLite)

    def close(self) -> None:
        if self.fd is not None:  # removed while still held: a newcomer never locks a dead file
            with contextlib.suppress(OSError):
                assert self.path is not None
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = None
        if self.connection is not None:
            with contextlib.suppress(Exception):  # closing it frees the lock on the server
                self.connection.close()
            self.connection = None


def hold_up_lock(store: Store, address: str) -> UpLock:
    """This process's claim to serve `store` at `address`, or a refusal naming the one that
    already does and how to stop it."""
    db_file = sqlite_path(store.url)
    if db_file is not None:
        return _hold_file(db_file.with_name(db_file.name + LOCK_SUFFIX), address)
    if store.engine.dialect.name == "postgresql":
        return _hold_advisory(store, address)
    return UpLock()  # an in-memory store: nobody else can reach it


def _facts(address: str) -> dict[str, Any]:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"pid": os.getpid(), "host": socket.gethostname(), "url": address, "started": started}


def _describe(facts: dict[str, Any]) -> str:
    where = f" on {facts['host']}" if facts.get("host") not in (None, socket.gethostname()) else ""
    shown = f"pid {facts.get('pid', '?')}{where}, serving {facts.get('url', '?')}"
    return f"{shown}, started {facts.get('started', '?')}"  # shown through inert by the caller


def _hold_file(path: Path, address: str) -> UpLock:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise fail(f"cannot create the lock file {path}: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            pid = holder.get("pid", "?")
            raise fail(
                f"onloop up is already running on this store ({_describe(holder)}); open "
                f"{holder.get('url', 'it')}, or stop it with "
                f"Ctrl-C in its terminal (or kill {pid}) first, or pass another --db"
            ) from None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed it as it stopped, just after we opened it: again
    left = _read(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(_facts(address)).encode(), 0)
    cleared = f"{_describe(left)}; it did not stop cleanly" if left else None
    return UpLock(path=path, fd=fd, cleared=cleared)


def _read(fd: int) -> dict[str, Any]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        found = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {"pid": "?"}
    return found if isinstance(found, dict) else {"pid": "?"}


def _hold_advisory(store: Store, address: str) -> UpLock:
    from sqlalchemy import text

    connection = store.engine.connect()
    taken = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
    if taken.scalar():
        name = f"{APP_NAME} {os.getpid()} {address}"[:63]  # PostgreSQL keeps 63 bytes
        connection.execute(text("SELECT set_config('application_name', :n, false)"), {"n": name})
        connection.commit()
        return UpLock(connection=connection)
    holder = connection.execute(
        text(
            "SELECT a.application_name, a.client_hostname, a.client_addr, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) AND "
            "((l.classid::bigint << 32) | l.objid::bigint) = :k"
        ),
        {"k": ADVISORY_KEY},
    ).first()
    connection.close()
    facts = _holder_facts(holder)
    raise fail(
        f"onloop up is already running on this database ({_describe(facts)}); open "
        f"{facts.get('url', 'it')}, or stop it with Ctrl-C in its "
        f"terminal (or kill {facts.get('pid', 'its process')} on its machine) first"
    )


def _holder_facts(holder: Any) -> dict[str, Any]:
    """The facts the holder's connection carries: its name (pid, address), machine and start."""
    if holder is None:  # it stopped just now
        return {}
    words = str(holder[0] or "").removeprefix(APP_NAME).split()
    facts: dict[str, Any] = dict(zip(("pid", "url"), words, strict=False))
    facts["host"] = holder[1] or (str(holder[2]) if holder[2] is not None else "this machine")
    if holder[3] is not None:
        facts["started"] = holder[3].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return facts
