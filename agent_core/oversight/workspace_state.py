"""The workspace's state as the run's tool calls leave it: a content digest per changed file.

Read from the tool events, never from a scan of the workspace: `write_file`'s content, the paths
`delete_files` reports deleted, a file a read returned (so recreating it as it was is no news),
and the files a shell command writes (redirections, `tee`, `sed -i`, `cp`, `mv`, `rm`, `touch`,
`git checkout/restore`), digested from disk when the run gives a reader. A file that goes back to
content it has had before (undo and redo, delete then recreate), or grows only by lines it already
has (the same block appended again), has not made progress; a code file whose code tokens are as
they were (a comment or docstring reworded) has not changed what the code does.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_core.oversight.code_changes import is_code, quick_code_tokens
from agent_core.oversight.polling import command_of
from agent_core.oversight.signatures import digest
from agent_core.tools.errors import ToolError
from agent_core.tools.workspace import Workspace
from agent_core.tools.workspace_files import opened_file

DELETED = "<deleted>"
Reader = Callable[[str], str | None]  # a workspace path -> its content's digest, None if absent
_PATH_KEYS = ("path", "file", "file_path", "filepath", "filename", "target", "dest")
CONTENT_KEYS = ("content", "contents", "text", "body", "data", "code", "new_content")
_SPLIT = re.compile(r"\|\||&&|[;|\n]")
_REDIRECT = re.compile(r"(?<![<&])\d?>>?\s*([^\s;&|<>()]+)")
_DUPLICATE = re.compile(r"\d?>&\d")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
TARGETS_CAP = 20  # files one call is looked at for
DIGESTS_PER_FILE = 32
FILES_CAP = 4096
READ_CAP = 1 << 20  # bytes of a file digested; a longer one adds its size
LINES_KEPT = 4000  # lines of a file remembered to tell growth from rewriting
CODE_CAP = 256 * 1024  # characters of a code file read as code tokens; a longer one by content


@dataclass(frozen=True)
class Change:
    """A file one call changed: its new state (content digest, or DELETED), and its text when the
    call gave it (a write's content; None: a command wrote it)."""

    path: str
    state: str
    text: str | None = None


@dataclass(frozen=True)
class Assessment:
    """What a call's changes came to."""

    new: bool  # a file reached content it never had (not by repeating lines it has)
    code_new: bool  # ... and, for a code file, code it never had (comments and layout aside)
    churn: bool  # a file rewritten again with nothing learnt in between
    repeated: bool  # every file changed only grew by lines it already had


def content_digest(text: str) -> str:
    """A file's content as state: trailing spaces and blank lines at the end do not count."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return digest("\n".join(lines))


def _clean(path: str) -> str:
    path = posixpath.normpath(path.strip().replace("\\", "/"))
    return path.removeprefix("./")


def _words(segment: str) -> list[str]:
    try:
        words = shlex.split(segment, posix=True)
    except ValueError:
        words = segment.split()
    while words and (_ENV.match(words[0]) or words[0] in ("sudo", "env", "command", "nohup")):
        words = words[1:]
    return words


def _operands(words: list[str]) -> list[str]:
    return [w for w in words[1:] if not w.startswith("-")]


def shell_writes(command: str) -> tuple[list[str], list[str]]:
    """The files a command line writes and those it removes, as far as its text says."""
    written = [t for t in _REDIRECT.findall(command) if not t.startswith(("&", "/dev/"))]
    removed: list[str] = []
    for segment in _SPLIT.split(_REDIRECT.sub(" ", _DUPLICATE.sub(" ", command))):
        words = _words(segment)
        if not words:
            continue
        program, operands = posixpath.basename(words[0]), _operands(words)
        if program == "tee" or program == "touch":
            written += operands
        elif program in ("sed", "perl", "ruby") and any(w.startswith("-i") for w in words):
            scripts = {i + 1 for i, w in enumerate(words) if w in ("-e", "--expression")}
            files = [w for i, w in enumerate(words) if i and i not in scripts and w[:1] not in "-"]
            written += files if scripts else files[1:]
        elif program in ("cp", "install", "ln") and len(operands) >= 2:
            written.append(operands[-1])
        elif program == "mv" and len(operands) >= 2:
            removed += operands[:-1]
            written.append(operands[-1])
        elif program in ("rm", "unlink"):
            removed += operands
        elif program == "git" and operands[:1] in (["checkout"], ["restore"]):
            written += [w for w in operands[1:] if w != "--"]
    written = list(dict.fromkeys(written))
    return written[:TARGETS_CAP], list(dict.fromkeys(removed))[:TARGETS_CAP]


def call_writes(
    tool: str, arguments: dict[str, Any], output: str
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """What a call that ran wrote and removed, read as WorkspaceState.changes reads it: each file
    written with the content the call gave it (None: a command wrote it), and the files removed."""
    path = next((arguments[k] for k in _PATH_KEYS if isinstance(arguments.get(k), str)), None)
    content = next((arguments[k] for k in CONTENT_KEYS if isinstance(arguments.get(k), str)), None)
    if path and content is not None:
        return [(_clean(path), content)], []
    name = tool.lower()
    if "delete" in name or "remove" in name:
        said = [line[8:] for line in output.splitlines() if line.startswith("deleted ")]
        return [], [_clean(p) for p in (said or _listed(arguments))[:TARGETS_CAP]]
    command = command_of(arguments)
    if command is None:
        return [], []
    written, removed = shell_writes(command)
    return [(_clean(p), None) for p in written], [_clean(p) for p in removed]


class WorkspaceState:
    """Each file's digest now, and the digests it has had (a bounded memory per file)."""

    def __init__(self, reader: Reader | None = None) -> None:
        self.reader = reader
        self.current: dict[str, str] = {}
        self.had: dict[str, dict[str, int]] = {}  # path -> digest -> when last seen
        self.rewrites: dict[str, int] = {}  # path -> writes since the run last learnt something
        self.lines: dict[str, tuple[frozenset[int], int]] = {}  # path -> its lines now, and count
        self.code: dict[str, set[str]] = {}  # code file -> digests of the code it has had

    def changes(self, tool: str, arguments: dict[str, Any], ok: bool, output: str) -> list[Change]:
        """Each file the call changed; [] when it changed none it names."""
        path = next((arguments[k] for k in _PATH_KEYS if isinstance(arguments.get(k), str)), None)
        content = next(
            (arguments[k] for k in CONTENT_KEYS if isinstance(arguments.get(k), str)), None
        )
        if ok and path and content is not None:
            return [Change(_clean(path), content_digest(content), content)]
        name = tool.lower()
        if ok and ("delete" in name or "remove" in name):
            said = [line[8:] for line in output.splitlines() if line.startswith("deleted ")]
            gone = said or _listed(arguments)
            return [Change(_clean(p), DELETED) for p in gone[:TARGETS_CAP]]
        command = command_of(arguments)
        if command is None:
            return []
        written, removed = shell_writes(command)
        if self.reader is not None:
            return [Change(_clean(p), self.reader(_clean(p)) or DELETED) for p in written + removed]
        made = digest(f"command {command}")
        return [Change(_clean(p), made) for p in written] + [
            Change(_clean(p), DELETED) for p in removed
        ]

    def saw(self, path: str, text: str, index: int) -> None:
        """A read returned a file's content: that content is a state the file has had."""
        path = _clean(path)
        self._remember(path, content_digest(text), index)
        self._take_lines(path, text)
        if is_code(path):
            self._code_news(path, text, False)

    def assess(self, changes: list[Change], index: int, *, by_command: bool) -> Assessment:
        """Record the changes and say what they came to. A write that keeps every line the file
        had and adds one it never had is growth (a report written section by section), never
        churn; one that only repeats lines the file has (the same block appended again) is
        nothing new."""
        new = code_new = churn = False
        repeats = 0
        for change in changes:
            path, state = change.path, change.state
            fresh = state not in self.had.get(path, {})
            grew, repeated = self._growth(path, change.text)
            fresh &= not repeated
            repeats += repeated
            new |= fresh
            code_new |= self._code_news(path, change.text, fresh)
            if not by_command:
                count = self.rewrites.get(path, 0)
                churn |= count >= 2 and not grew
                self.rewrites[path] = count + 1
            self.current[path] = state
            self._remember(path, state, index)
            self._take_lines(path, change.text)
        return Assessment(new, code_new, churn, bool(changes) and repeats == len(changes))

    def _growth(self, path: str, text: str | None) -> tuple[bool, bool]:
        """(grew: kept every line and added one never had, repeated: grew by lines it has)."""
        before = self.lines.get(path)
        if text is None or before is None:
            return False, False
        lines = _line_hashes(text)
        if lines is None:
            return False, False
        kept, count = before
        now = frozenset(lines)
        return kept < now, now <= kept and len(lines) > count

    def _code_news(self, path: str, text: str | None, fresh: bool) -> bool:
        """Whether a code file reached code it never had; any other file, content."""
        readable = text is not None and len(text) <= CODE_CAP and is_code(path)
        tokens = quick_code_tokens(path, text) if readable and text is not None else None
        if tokens is None:
            return fresh
        state = digest(" ".join(tokens))
        had = self.code.setdefault(path, set())
        news = state not in had
        had.add(state)
        if len(had) > DIGESTS_PER_FILE:
            had.pop()
        return news

    def _take_lines(self, path: str, text: str | None) -> None:
        """Remember a file's lines, to tell growth from rewriting."""
        lines = _line_hashes(text) if text is not None else None
        if lines is None:
            self.lines.pop(path, None)
        else:
            self.lines[path] = (frozenset(lines), len(lines))
            if len(self.lines) > FILES_CAP:
                del self.lines[next(iter(self.lines))]

    def learnt(self) -> None:
        """Something new was observed: rewriting a file is no churn until it is rewritten twice."""
        if self.rewrites:
            self.rewrites.clear()

    def _remember(self, path: str, state: str, index: int) -> None:
        had = self.had.pop(path, None) or {}
        had.pop(state, None)
        had[state] = index
        if len(had) > DIGESTS_PER_FILE:
            del had[next(iter(had))]
        self.had[path] = had  # most recently touched last
        if len(self.had) > FILES_CAP:
            oldest = next(iter(self.had))
            del self.had[oldest]
            self.current.pop(oldest, None)
            self.code.pop(oldest, None)


def _line_hashes(text: str) -> list[int] | None:
    """The hashes of a text's non-blank lines, spaces aside; None for a text too long to keep."""
    lines = [hash(" ".join(line.split())) for line in text.splitlines() if line.strip()]
    return lines if len(lines) <= LINES_KEPT else None


def _listed(arguments: dict[str, Any]) -> list[str]:
    paths = arguments.get("paths", arguments.get("path"))
    if isinstance(paths, str):
        return [paths]
    return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []


def workspace_reader(workspace: Workspace) -> Reader:
    """Digests of the workspace's files as they are now, read like read_file reads them (never
    through a link out of the workspace); None for a file that is not there or cannot be read."""

    def read(path: str) -> str | None:
        try:
            with opened_file(workspace, path) as (fd, info):
                data = os.read(fd, READ_CAP)
        except (ToolError, OSError):
            return None
        text = data.decode("utf-8", "replace")
        return content_digest(text if info.st_size <= READ_CAP else f"{text}{info.st_size}")

    return read
