"""Files and folders onloop makes for itself, readable by their owner only, whatever the umask.

The store, its -wal/-shm/-journal, the workspaces and the sandbox's scratch files hold goals,
tool output and secrets a run met; on a shared machine no other local user may read them. New
ones are created 0600/0700 (the mode set explicitly after creation, so the umask cannot widen
it); existing ones with looser modes are tightened when this user owns them, said once in the log.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")

_announced: set[str] = set()
_announced_lock = threading.Lock()


class NotOwnFolder(PermissionError):
    """A folder onloop would keep private belongs to someone else (e.g. squatted in /tmp)."""


def private_folder(path: Path) -> Path:
    """`path` as a folder only its owner can enter: made 0700 if missing, else tightened.

    NotOwnFolder when it exists but another user owns it or it is a symlink: onloop will not
    keep its files in a folder someone else controls.
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        made = _make_private(path)
        if made is not None:
            return made
        info = os.lstat(path)  # made meanwhile by another process: checked like any other
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        owner = "a symlink" if stat.S_ISLNK(info.st_mode) else f"owned by uid {info.st_uid}"
        raise NotOwnFolder(
            f"{path} is {owner}, not a folder of this user (uid {os.getuid()}); remove it or "
            "point onloop elsewhere (ONLOOP_WORKSPACES, --db)"
        )
    tighten(path, FOLDER_MODE)
    return path


def _make_private(path: Path) -> Path | None:
    """Make the missing folder `path` (and its missing parents) owner-only; None when another
    process made it meanwhile. One mkdir when its parent is there (a worker makes one per run)."""
    try:
        os.mkdir(path, FOLDER_MODE)
    except FileNotFoundError:  # its parent is missing too
        path.parent.mkdir(parents=True, exist_ok=True)
        return _make_private(path)
    except FileExistsError:
        return None
    os.chmod(path, FOLDER_MODE, follow_symlinks=False)  # a umask like 0o277 narrows more
    return path


def tighten(path: Path, mode: int, *, announce: bool = True) -> bool:
    """Remove group and other permissions from `path` when this user owns it (keeping no owner
    bit `mode` lacks); whether it did.

    Links are never followed (and never changed); a path owned by someone else is left alone.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        return False
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if not loose:
        return False
    now = stat.S_IMODE(info.st_mode) & ~0o077 & (mode | 0o7000)  # owner's own bits stay
    os.chmod(path, now)
    if announce:
        _announce(path, stat.S_IMODE(info.st_mode), now)
    return True


def _announce(path: Path, was: int, mode: int) -> None:
    key = str(path)
    with _announced_lock:
        if key in _announced:
            return
        _announced.add(key)
    log.info(  # the log, not a person's terminal: a CLI command's stderr stays its own answer
        "%s was readable by other local users (mode %04o); made it owner-only (%04o)",
        path,
        was,
        mode,
    )


def create_private_file(path: Path) -> bool:
    """Create `path` empty and 0600 unless it exists (then tighten it); whether it was created."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        tighten(Path(path), FILE_MODE)
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private_file(path: Path, text: str) -> None:
    """Write `path` (replacing it) as a 0600 file; an existing link at `path` is replaced too."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def private_store_file(path: Path) -> None:
    """Prepare a SQLite file before SQLite opens it: created 0600 if new (SQLite then creates its
    -wal/-shm/-journal with the main file's mode), else it and its siblings tightened."""
    parent = Path(path).parent
    if not parent.exists():
        private_folder(parent)  # a folder onloop makes for its store is its own
    if not create_private_file(path):
        for suffix in SQLITE_SIBLINGS:
            tighten(Path(f"{path}{suffix}"), FILE_MODE)
