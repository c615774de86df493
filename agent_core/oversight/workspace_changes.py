"""What a run did to the files of its workspace: created, changed, deleted, with a diff for text.

Read from the run's recorded tool calls the way the drift monitors' workspace state reads them
(agent_core/oversight/workspace_state.py): `write_file`'s content, the files `delete_files`
reports deleted, the files a shell line writes or removes (redirections, `tee`, `sed -i`, `cp`,
`mv`, `rm`, ...). The content before the run's first change is what the run recorded of it (a
`read_file` of it, an earlier write), else the folder the workspace was copied from, else nothing
for a workspace that started empty (a new file). The content after is the file as it is now when the workspace still exists
(so a shell command's writes show too), else what the run last wrote. Nothing here is trusted:
the page shows paths, contents and diffs through agent_core.oversight.inert.
"""

from __future__ import annotations

import difflib
import errno
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_core.oversight.polling import command_of
from agent_core.oversight.workspace_state import call_writes
from agent_core.tools.errors import ToolError
from agent_core.tools.workspace import Workspace
from agent_core.tools.workspace_files import opened_file
from storage import EventRecord
from storage.record import ToolCall, ToolResult, parse_event
from storage.vocabulary import EventKind

COMPARE_CAP = 512 * 1024  # bytes of a file compared line by line; a larger one is summarised
DIFF_LINES_CAP = 400  # lines of one file's diff shown; the rest is counted
_TRUNCATED_READ = "\n\n[truncated: showing the first "

State = Literal["text", "binary", "huge", "absent", "unknown"]
Change = Literal["created", "changed", "deleted", "written", "unchanged"]


@dataclass(frozen=True)
class Content:
    """A file at one moment: its text, or why there is none to compare."""

    state: State
    text: str = ""
    size: int = 0

    @property
    def exists(self) -> bool:
        return self.state in ("text", "binary", "huge")


ABSENT = Content("absent")
UNKNOWN = Content("unknown")


@dataclass
class FileChange:
    """One file the run touched, as it came out."""

    path: str
    change: Change
    before: Content
    after: Content
    calls: list[str] = field(default_factory=list)  # "write_file #8", in order
    notes: list[str] = field(default_factory=list)  # our own words about it
    diff: str = ""  # unified diff, "" when there is no text on both sides to compare


@dataclass
class _Track:
    before: Content
    last: Content  # what the record says the run left (UNKNOWN: a command wrote it)
    calls: list[str] = field(default_factory=list)


def text_content(data: bytes) -> Content:
    """Bytes as comparable text, or summarised when binary or too large."""
    if len(data) > COMPARE_CAP:
        return Content("huge", size=len(data))
    if b"\x00" in data:
        return Content("binary", size=len(data))
    try:
        return Content("text", data.decode("utf-8"), len(data))
    except UnicodeDecodeError:
        return Content("binary", size=len(data))


def read_file(root: Path, path: str) -> Content:
    """The file at `path` under `root` as it is now, never leaving the folder (symlinks out,
    hard links, devices and FIFOs are refused as the tools refuse them)."""
    try:
        with opened_file(Workspace(root), path) as (fd, info):
            if info.st_size > COMPARE_CAP:
                return Content("huge", size=info.st_size)
            data = os.read(fd, COMPARE_CAP + 1)
    except FileNotFoundError:
        return ABSENT
    except OSError as error:
        return ABSENT if error.errno == errno.ENOENT else UNKNOWN
    except ToolError:
        target = root / path
        return UNKNOWN if os.path.lexists(target) else ABSENT
    return text_content(data)


def workspace_changes(
    events: Iterable[EventRecord],
    *,
    workspace: Path | None,
    seed: Path | None = None,
    started_empty: bool = True,
) -> list[FileChange]:
    """The files the recorded tool calls created, changed or deleted, in the order first touched.

    `workspace`: the folder as it is now (None: gone, so what the run last wrote stands);
    `seed`: the folder the workspace was copied from; `started_empty`: the run's own new folder
    (no file existed before it unless copied from `seed`).
    """
    tracks: dict[str, _Track] = {}
    seen_reads: dict[str, Content] = {}
    asked: dict[str, Any] = {}
    for event in events:
        step = parse_event(event.kind, event.payload)
        if isinstance(step, ToolCall):
            asked[str(step.tool_call_id)] = step.arguments
            continue
        if not isinstance(step, ToolResult) or event.kind != EventKind.TOOL_RESULT:
            continue
        if (step.outcome or ("ok" if step.ok else "error")) != "ok":
            continue  # rejected, denied, failed: it changed nothing the record can vouch for
        ran = step.arguments if step.given("arguments") and step.arguments else None
        arguments = ran or asked.get(str(step.tool_call_id)) or {}
        if not isinstance(arguments, dict):
            continue
        name = str(step.tool or "")
        if name == "read_file" and isinstance(arguments.get("path"), str):
            path = _clean(arguments["path"])
            if path not in tracks and _TRUNCATED_READ not in step.output:
                seen_reads.setdefault(path, Content("text", step.output, len(step.output)))
            continue
        written, removed = call_writes(name, arguments, step.output)
        touched = [(p, UNKNOWN if c is None else text_content(c.encode())) for p, c in written]
        by_command = command_of(arguments) is not None
        for path, after in [*touched, *((p, ABSENT) for p in removed)]:
            if by_command and _glob(path):
                continue  # a pattern the shell expanded: which files it named is not recorded
            track = tracks.get(path) or _start(path, seen_reads, seed, started_empty)
            tracks[path] = track
            track.last = after
            track.calls.append(f"{name} #{event.seq}")
    return [_outcome(path, track, workspace) for path, track in tracks.items()]


def _clean(path: str) -> str:
    return posixpath.normpath(path.strip().replace("\\", "/")).removeprefix("./")


def _glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _start(path: str, reads: dict[str, Content], seed: Path | None, empty: bool) -> _Track:
    if path in reads:
        before = reads[path]
    elif seed is not None and seed.is_dir():
        before = read_file(seed, path)
    else:
        before = ABSENT if empty else UNKNOWN
    return _Track(before=before, last=before)


def _outcome(path: str, track: _Track, workspace: Path | None) -> FileChange:
    after = track.last
    notes: list[str] = []
    if workspace is not None and workspace.is_dir():
        now = read_file(workspace, path)
        if track.last.state == "text" and now.state == "text" and now.text != track.last.text:
            notes.append("changed since the run last wrote it: shown as it is now")
        elif track.last.exists and not now.exists:
            notes.append("deleted since the run wrote it")
        after = now
    elif track.last.state == "unknown":
        notes.append("written by a command; the workspace is gone, so its content is not known")
    change = _kind(track.before, after)
    if change == "deleted" and track.before.state == "absent":
        notes.append("created and deleted by this run")
    if track.before.state == "unknown" and after.exists:
        notes.append("its content before the run was not recorded")
    diff, cut = _diff(path, track.before, after)
    if cut:
        notes.append(f"{cut:,} more diff lines not shown")
    for side, content in (("before", track.before), ("now", after)):
        if content.state == "binary":
            notes.append(f"binary {side} ({content.size:,} bytes): not compared")
        elif content.state == "huge":
            notes.append(f"{content.size:,} bytes {side}: too large to compare")
    return FileChange(path, change, track.before, after, track.calls, notes, diff)


def _kind(before: Content, after: Content) -> Change:
    if not after.exists and after.state != "unknown":
        return "deleted"
    if before.state == "absent":
        return "created"
    if before.state == "unknown" or after.state == "unknown":
        return "written"
    if before.state == "text" and after.state == "text" and before.text == after.text:
        return "unchanged"
    return "changed"


def _diff(path: str, before: Content, after: Content) -> tuple[str, int]:
    """A unified diff (a new or deleted file against nothing), and how many lines were cut."""
    sides = []
    for content in (before, after):
        if content.state == "text":
            sides.append(content.text.splitlines(keepends=True))
        elif content.state == "absent":
            sides.append([])
        else:
            return "", 0
    old = "/dev/null" if before.state == "absent" else f"a/{path}"
    new = "/dev/null" if after.state == "absent" else f"b/{path}"
    lines = [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
        for line in difflib.unified_diff(sides[0], sides[1], old, new)
    ]
    if len(lines) <= DIFF_LINES_CAP:
        return "".join(lines), 0
    return "".join(lines[:DIFF_LINES_CAP]), len(lines) - DIFF_LINES_CAP
