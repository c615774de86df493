"""Opening files inside a workspace without following a link swapped in after the check.

Every path is walked one component at a time from an open descriptor of the workspace's root:
folders are opened with O_DIRECTORY|O_NOFOLLOW relative to the folder before, the last component
with O_NOFOLLOW|O_NONBLOCK. A symlink met on the way is read (readlinkat) and its text walked the
same way, so a link that stays inside the workspace still works, and one that leads out (an
absolute target elsewhere, or '..' above the root) is refused: the kernel never follows a link
for us, so no swap between a check and an open can lead outside.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent_core.tools.errors import ToolError, WorkspaceEscape
from agent_core.tools.workspace import Workspace

MAX_LINKS = 40  # as the kernel's own limit: more means a loop
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in for a file must not block the worker; O_NOCTTY: a terminal
# device must never become the worker's controlling terminal.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_FIX = "use a path relative to the workspace"
_CHANGED = "changed while it was being opened (a link or folder was swapped); try again"


class Missing(ToolError):
    """A folder on the way to a path does not exist."""


@dataclass
class Found:
    """Where a path leads: the open folders walked (root first) and the last name in the last one.

    `name` is None when the path is a folder reached whole ('.', 'a/..', a link to a folder).
    """

    folders: list[int]
    name: str | None

    @property
    def folder(self) -> int:
        return self.folders[-1]


@contextmanager
def located(
    workspace: Workspace, relative: str, *, follow_last: bool = True, make_folders: bool = False
) -> Iterator[Found]:
    """The folder holding `relative`'s last component, walked without the kernel following links.

    WorkspaceEscape when the path, or a link on its way, leads outside; ToolError when a folder on
    the way is missing (unless `make_folders`) or is not a folder.
    """
    workspace.resolve(relative)  # the lexical checks ('..', absolute, NUL), with their messages
    found = Found([_open_root(workspace, create=make_folders)], None)
    try:
        _walk(workspace, relative, found, follow_last, make_folders)
        yield found
    finally:
        for fd in found.folders:
            os.close(fd)


def _open_root(workspace: Workspace, *, create: bool) -> int:
    if create:
        workspace.root.mkdir(parents=True, exist_ok=True)
    try:  # the root itself is onloop's (or the person's) choice: a link to it is followed
        return os.open(workspace.real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Missing("the workspace is empty (its folder does not exist yet)") from None


def _walk(workspace: Workspace, relative: str, found: Found, follow_last: bool, make: bool) -> None:
    pending = deque(_components(relative.strip() or "."))
    links = 0
    while pending:
        name = pending.popleft()
        if name in ("", "."):
            continue
        if name == "..":  # only ever reached through a link's text: the lexical check refuses it
            if len(found.folders) == 1:
                raise _escape(relative)
            os.close(found.folders.pop())
            continue
        last = not any(p not in ("", ".") for p in pending)
        try:
            info = os.stat(name, dir_fd=found.folder, follow_symlinks=False)
        except FileNotFoundError:
            if last:
                found.name = name
                return
            if not make:
                raise Missing(
                    f"no file {relative!r} in the workspace (no folder {name!r} on the way); "
                    "list_files shows what exists"
                ) from None
            _make_folder(name, found.folder)
            pending.appendleft(name)
            continue
        if stat.S_ISLNK(info.st_mode) and (follow_last or not last):
            links += 1
            if links > MAX_LINKS:
                raise ToolError(f"{relative!r} goes through too many symlinks (a loop?)")
            target = os.readlink(name, dir_fd=found.folder)
            if os.path.isabs(target):
                target = _inside(workspace, target, relative)
                for fd in found.folders[1:]:
                    os.close(fd)
                del found.folders[1:]
            pending.extendleft(reversed(_components(target)))
            continue
        if last and not stat.S_ISDIR(info.st_mode):
            found.name = name
            return
        found.folders.append(_open_folder(name, found.folder, relative))


def _open_folder(name: str, folder: int, relative: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a symlink after the stat
            raise ToolError(f"{relative!r} {_CHANGED}") from None
        raise  # ENOTDIR and the like: the runner reports the OS's own words


def _make_folder(name: str, folder: int) -> None:
    try:
        os.mkdir(name, 0o777, dir_fd=folder)
    except FileExistsError:
        pass  # made meanwhile: the next round looks at what it is


def _components(text: str) -> list[str]:
    return text.split("/")  # a backslash is part of a name on POSIX, as the kernel sees it


def _inside(workspace: Workspace, target: str, relative: str) -> str:
    """An absolute link's text as a path from the root, when it names a place inside the root."""
    for base in dict.fromkeys((str(workspace.real_root), os.path.abspath(workspace.root))):
        if target == base or target.startswith(base.rstrip("/") + "/"):
            return target[len(base) :].lstrip("/") or "."
    raise _escape(relative)


def _escape(relative: str) -> WorkspaceEscape:
    return WorkspaceEscape(
        f"path {relative!r} leads outside the run's workspace through a symlink; {_FIX}"
    )


@contextmanager
def opened_file(workspace: Workspace, relative: str) -> Iterator[tuple[int, os.stat_result]]:
    """A regular file of the workspace open for reading, and its status.

    Refused: folders, FIFOs, devices and sockets (never opened, so none can block or act), and a
    file with more than one hard link: its other name may be outside the workspace.
    """
    with located(workspace, relative) as found:
        if found.name is None:
            raise ToolError(f"{relative!r} is a folder; use list_files to see what is in it")
        before = _lstat(found, relative)
        _check_regular(before, relative)
        try:
            fd = os.open(found.name, READ_FLAGS, dir_fd=found.folder)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
                raise ToolError(f"{relative!r} {_CHANGED}") from None
            raise
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
                raise ToolError(f"{relative!r} {_CHANGED}")
            _check_regular(now, relative)
            os.set_blocking(fd, True)
            yield fd, now
        finally:
            os.close(fd)


def _lstat(found: Found, relative: str) -> os.stat_result:
    assert found.name is not None
    try:
        return os.stat(found.name, dir_fd=found.folder, follow_symlinks=False)
    except FileNotFoundError:
        raise ToolError(
            f"no file {relative!r} in the workspace; list_files shows what exists"
        ) from None


def _check_regular(info: os.stat_result, relative: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{relative!r} is a folder; use list_files to see what is in it")
    if not stat.S_ISREG(info.st_mode):
        raise ToolError(f"{relative!r} is not a regular file (a FIFO, device or socket)")
    if info.st_nlink > 1:
        raise ToolError(
            f"{relative!r} has {info.st_nlink} hard links: its other names may be outside the "
            "workspace, so file tools do not read it; copy it with run_shell (cp) to read the copy"
        )


def replace_file(workspace: Workspace, relative: str, data: bytes) -> None:
    """Write `data` as the whole file: a new file beside it, renamed over the old name.

    The rename replaces the name (never writes through a link, a FIFO or a hard link's inode, so
    no file outside the workspace sharing that inode changes); an existing file keeps its mode.
    """
    with located(workspace, relative, make_folders=True) as found:
        if found.name is None:
            raise ToolError(f"{relative!r} is a folder; name a file inside it")
        _refuse_own(workspace, found, relative)
        try:
            old = os.stat(found.name, dir_fd=found.folder, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and stat.S_ISDIR(old.st_mode):
            raise ToolError(f"{relative!r} is a folder; name a file inside it")
        if old is not None and not stat.S_ISREG(old.st_mode):
            raise ToolError(f"{relative!r} is not a regular file (a FIFO, device or socket)")
        temporary = f".{found.name[:100]}.onloop-{uuid.uuid4().hex[:8]}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temporary, flags, 0o666, dir_fd=found.folder)
        try:
            try:
                if old is not None:
                    os.fchmod(fd, stat.S_IMODE(old.st_mode))
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.rename(temporary, found.name, src_dir_fd=found.folder, dst_dir_fd=found.folder)
        except BaseException:
            _unlink_quietly(temporary, found.folder)
            raise


def _refuse_own(workspace: Workspace, found: Found, relative: str) -> None:
    """OwnFileRefused when the name the walk reached (in the folder it holds open) is one of
    onloop's own files: a link swapped in after the caller's check must not lead a write there."""
    try:
        folder = os.readlink(f"/proc/self/fd/{found.folder}")
    except OSError as exc:  # no /proc: where it lands cannot be told, so it is not written
        raise ToolError(f"cannot tell where {relative!r} leads ({exc}); nothing written") from None
    workspace.refuse_own(Path(folder) / (found.name or ""), relative)


def _unlink_quietly(name: str, folder: int) -> None:
    try:
        os.unlink(name, dir_fd=folder)
    except OSError:
        pass


def delete_file(workspace: Workspace, relative: str) -> str:
    """Remove one name (a file, or a link itself, never what it points to); what happened."""
    try:
        with located(workspace, relative, follow_last=False) as found:
            _refuse_own(workspace, found, relative)
            return _delete_in(found)
    except Missing:
        return "missing"


def _delete_in(found: Found) -> str:
    if found.name is None:
        return "folder"
    try:
        info = os.stat(found.name, dir_fd=found.folder, follow_symlinks=False)
    except FileNotFoundError:
        return "missing"
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    try:
        os.unlink(found.name, dir_fd=found.folder)
    except IsADirectoryError:  # swapped for a folder meanwhile: nothing removed
        return "folder"
    except FileNotFoundError:
        return "missing"
    return "deleted"


def entry_status(workspace: Workspace, relative: str) -> tuple[os.stat_result | None, int | None]:
    """What `relative` is (lstat after links inside are walked; None if missing) and, for a
    folder, a descriptor of it opened without following links (the caller closes it)."""
    try:
        with located(workspace, relative) as found:
            return _status_in(found, relative)
    except Missing:
        return None, None


def _status_in(found: Found, relative: str) -> tuple[os.stat_result | None, int | None]:
    if found.name is None:
        return os.fstat(found.folder), os.dup(found.folder)
    try:
        info = os.stat(found.name, dir_fd=found.folder, follow_symlinks=False)
    except FileNotFoundError:
        return None, None
    if not stat.S_ISDIR(info.st_mode):
        return info, None
    return info, _open_folder(found.name, found.folder, relative)


def walk_folder(folder: int, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under an open folder, depth first as os.walk (a folder's own files, then its
    subfolders in name order), as (path shown with `prefix`, lstat); links are listed, not entered.
    """
    with os.scandir(folder) as entries:
        listed = sorted((e.name, e.stat(follow_symlinks=False)) for e in entries)
    folders = [(n, s) for n, s in listed if stat.S_ISDIR(s.st_mode)]
    for name, info in listed:
        if not stat.S_ISDIR(info.st_mode):
            yield _join(prefix, name), info
    for name, _info in folders:
        try:
            inner = os.open(name, DIR_FLAGS, dir_fd=folder)
        except OSError:  # removed or swapped for a link meanwhile: not entered
            continue
        try:
            yield from walk_folder(inner, _join(prefix, name))
        finally:
            os.close(inner)


def _join(prefix: str, name: str) -> str:
    return name if prefix in ("", ".") else f"{prefix}/{name}"
