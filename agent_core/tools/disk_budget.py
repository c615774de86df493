"""A run's disk budget: how much its workspace (and the folders its MCP servers may write) may
grow in one session of the run, so a command cannot fill the host's disk. RLIMIT_FSIZE caps one
file; this caps them all together (many small files, a fork of writers, sparse files)."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MB = 1 << 20
MIN_ENTRY_BYTES = 4096  # every file, folder or link costs at least a block (and an inode)
MIN_INTERVAL_S = 0.25  # how often a running command's writes are measured, at the least
RAISE_HINT = (
    "delete files the run no longer needs, or raise [sandbox] disk_mb in the policy file for "
    "the next runs; resuming this run grants it another"
)


def disk_usage(root: Path) -> int:
    """Bytes a folder takes, counted on the safe side: a file's length even where it is sparse
    (copied out, it is written in full), each entry at least a block, hard links once, links
    never followed. A folder its command closed (chmod 000) is opened for the walk, then closed
    again: it still counts."""
    total, seen = 0, set()
    stack = [str(root)]
    opened: list[tuple[str, int]] = []  # folders opened for this walk, and their own mode
    try:
        while stack:
            folder = stack.pop()
            try:
                _open_up(folder, opened)
                entries = list(os.scandir(folder))
            except OSError:
                continue  # gone, or not a folder (a file root is counted below)
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
                total += max(info.st_size, info.st_blocks * 512, MIN_ENTRY_BYTES)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
    finally:
        for folder, mode in reversed(opened):  # deepest first: their parents are still open
            try:
                os.chmod(folder, mode)
            except OSError:
                pass  # gone meanwhile
    return total


def _open_up(folder: str, opened: list[tuple[str, int]]) -> None:
    """Let this walk list `folder` and read its entries' sizes. A command can take the read and
    search permissions off a folder it made (chmod 000) so that a worker that is not root would
    skip it and not count what it holds. The folder is the worker's own (the sandbox's user is
    the worker's), so its owner bits are opened; disk_usage puts them back after the walk."""
    if os.geteuid() == 0:
        return  # root reads every folder anyway
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or (info.st_mode & 0o500) == 0o500:
        return
    if info.st_uid == os.geteuid():
        os.chmod(folder, stat.S_IMODE(info.st_mode) | 0o500)
        opened.append((folder, stat.S_IMODE(info.st_mode)))


@dataclass
class DiskBudget:
    """Growth allowed over the sizes the watched folders had when the run's session began."""

    limit_bytes: int
    baseline: dict[Path, int]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _walk_s: float = 0.0
    _bound: int = 0  # the growth last measured, plus what calls since can have added at most

    @classmethod
    def start(cls, roots: Iterable[Path], limit_mb: int) -> DiskBudget:
        unique = dict.fromkeys(Path(os.path.realpath(r)) for r in roots)
        return cls(limit_mb * MB, {root: disk_usage(root) for root in unique})

    def growth(self) -> int:
        started = time.monotonic()
        grown = sum(max(disk_usage(r) - size, 0) for r, size in self.baseline.items())
        with self._lock:
            self._walk_s = time.monotonic() - started
        return grown

    def exceeded(self, grew_at_most: int | None = None) -> str | None:
        """Why the budget is spent (naming it and how to raise it), or None while it holds.
        `grew_at_most`: what the last call can have added at most (a built-in file tool's), or
        None: unknown. While the growth last measured plus such bounds stays within the budget,
        it holds without a walk of the workspace (a walk costs as much as the files it holds)."""
        if grew_at_most is not None and self._bound + grew_at_most <= self.limit_bytes:
            self._bound += grew_at_most
            return None
        grown = self._bound = self.growth()
        if grown <= self.limit_bytes:
            return None
        limit = self.limit_bytes // MB
        return (
            f"the workspace grew by {grown / MB:.1f} MB in this session of the run, over its "
            f"disk budget of {limit} MB ([sandbox] disk_mb = {limit}); {RAISE_HINT} {limit} MB"
        )

    def interval(self) -> float:
        """How long a running command waits between measurements: a large workspace, whose
        walk takes longer, is measured less often."""
        with self._lock:
            return max(MIN_INTERVAL_S, 10 * self._walk_s)
