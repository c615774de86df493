"""A small tmpfs to fill: the store on a disk that runs out of room. Needs root: skipped with the
reason on a developer's machine without it, a failure under CI (which runs as root) and a
failure whenever root cannot mount one."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

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
