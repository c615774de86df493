"""A small tmpfs to fill: the store (a SQLite file, or a PostgreSQL database's tablespace) on a
disk that runs out of room. Needs root: without it, or when root cannot mount one, the test fails
naming the fix (never skipped)."""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres_server import SUPERUSER, PostgresServer

SIZE = "16m"  # small enough to fill in a moment, big enough for a store's WAL to grow in


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[Path]:
    """`folder` as a tmpfs of SIZE, unmounted afterwards whatever happened."""
    if os.geteuid() != 0:  # never skipped: a full disk untested is a fault untested
        pytest.fail(
            "the full-disk tests mount a small tmpfs, which needs root: run the suite as root "
            "(bash .ci/run does)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:  # as root a tmpfs always mounts on Linux: not mounting is a fault
        pytest.fail(f"cannot mount a tmpfs as root: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk refuses; returns it (remove it to free the room)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


@contextlib.contextmanager
def small_tablespace_database(server: PostgresServer, name: str) -> Iterator[tuple[str, Path]]:
    """Database `name` of `server` in a tablespace on a small disk: its URL and the disk's
    folder (fill it to fill the tablespace). Dropped, and the disk unmounted, afterwards."""
    # Under the cluster's own folder: the server's user cannot reach into pytest's (0700).
    with small_disk(server.data.parent / "small-disk") as disk:
        owner = pwd.getpwnam(SUPERUSER)
        os.chown(disk, owner.pw_uid, owner.pw_gid)  # the server writes the tablespace
        server.admin(f"CREATE TABLESPACE onloop_small LOCATION '{disk}'")
        try:
            server.admin(f"CREATE DATABASE {name} TABLESPACE onloop_small")
            try:
                yield server.url(name), disk
            finally:
                server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            server.admin("DROP TABLESPACE IF EXISTS onloop_small")
