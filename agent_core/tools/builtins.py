"""The built-in tools. Every path goes through the run's Workspace, which they cannot leave."""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent_core.tools.calculator import evaluate, format_number
from agent_core.tools.context import ToolContext
from agent_core.tools.decorator import Tool, tool
from agent_core.tools.errors import ToolError
from agent_core.tools.sandbox import SandboxUnavailable, sandbox_status
from agent_core.tools.shell import OUTPUT_CAP, run_command
from agent_core.tools.web import fetch_url
from agent_core.tools.workspace import Workspace
from agent_core.tools.workspace_files import (
    delete_file,
    entry_status,
    opened_file,
    replace_file,
    walk_folder,
)

LIST_CAP = 500  # files shown by list_files
READ_CAP = 100_000  # bytes returned by read_file
TIMEOUT_RANGE = (1, 300)  # seconds allowed for run_shell
PROCESS_TOOLS = ("run_shell",)  # the built-ins that start processes: they need the sandbox
STOPPED_BY_HALT = (
    "the command was stopped by a halt or by its worker stopping; its processes were ended"
)


def _names(paths: object, limit: int = 10) -> str:
    items = [str(p) for p in paths] if isinstance(paths, list) else [str(paths)]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@tool("low", describe=lambda a: f"calculate {a['expression']}")
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly and safely.

    Args:
        expression: Arithmetic such as "2,340 * 1.07" or "sqrt(2) / 3": numbers, + - * / // % **,
            parentheses, pi, e and round, abs, min, max, sqrt, floor, ceil.
    """
    return format_number(evaluate(expression))


@tool("low", describe=lambda a: f"get the current time in {a.get('timezone') or 'UTC'}")
def current_time(timezone: str = "UTC") -> str:
    """Tell the current date and time.

    Args:
        timezone: An IANA time zone name such as "UTC", "Europe/Paris" or "America/New_York".
    """
    zone: tzinfo
    if timezone.strip().upper() in ("UTC", "Z", "GMT"):
        zone, label = UTC, "UTC"
    else:
        try:
            zone, label = ZoneInfo(timezone.strip()), timezone.strip()
        except (ZoneInfoNotFoundError, ValueError):
            raise ToolError(
                f"unknown timezone {timezone!r}; use an IANA name such as 'UTC', "
                "'Europe/Paris' or 'America/New_York'"
            ) from None
    now = datetime.now(zone)
    return f"{now.isoformat(timespec='seconds')} ({now:%A}, {label})"


@tool("low", describe=lambda a: f"list the files in {a.get('path') or '.'}", paths=("path",))
def list_files(workspace: Workspace, path: str = ".") -> str:
    """List the files under a folder of the workspace, recursively, with their sizes.

    Args:
        path: A folder relative to the workspace; "." is the whole workspace.
    """
    info, folder = entry_status(workspace, path)
    shown = os.path.normpath(path.strip() or ".")
    if info is None and shown == ".":  # a run that has not written anything yet
        return "no files in ."
    if info is None:
        raise ToolError(f"no folder {path!r} in the workspace; list_files('.') shows what exists")
    if folder is None:
        return f"{shown}  {_size(info.st_size)}"
    lines: list[str] = []
    try:
        for name, entry in walk_folder(folder, shown):  # links are listed, never followed
            if len(lines) == LIST_CAP:
                lines.append(f"[listing stopped at {LIST_CAP} files; list a subfolder for more]")
                return "\n".join(lines)
            kind = "(symlink)" if stat.S_ISLNK(entry.st_mode) else _size(entry.st_size)
            lines.append(f"{name}  {kind}")
    finally:
        os.close(folder)
    return "\n".join(lines) if lines else f"no files in {shown}"


def _read_up_to(fd: int, cap: int) -> bytes:
    chunks: list[bytes] = []
    left = cap
    while left > 0:
        chunk = os.read(fd, min(left, 65_536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return "1 byte" if n == 1 else f"{n:,} bytes"


@tool("low", describe=lambda a: f"read {a['path']}", paths=("path",))
def read_file(workspace: Workspace, path: str) -> str:
    """Read a text file from the workspace (the first 100 KB of a larger one).

    Args:
        path: The file, relative to the workspace.
    """
    with opened_file(workspace, path) as (fd, info):
        size = info.st_size
        data = _read_up_to(fd, READ_CAP)
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path!r} looks like a binary file ({size:,} bytes); read_file reads text")
    # An incremental decoder drops a character cut in half at the cap instead of garbling it.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=size <= READ_CAP)
    if size > READ_CAP:
        text += f"\n\n[truncated: showing the first {READ_CAP:,} of {size:,} bytes]"
    return text


def _describe_write(a: dict) -> str:
    size = len(str(a.get("content", "")).encode("utf-8"))
    return f"write {size:,} bytes to {a['path']}"


@tool("medium", describe=_describe_write, paths=("path",))
def write_file(workspace: Workspace, path: str, content: str) -> str:
    """Write a text file in the workspace, replacing it if it exists; folders are created.

    Args:
        path: The file, relative to the workspace.
        content: The complete new text of the file.
    """
    workspace.writable(path)
    data = content.encode("utf-8")
    replace_file(workspace, path, data)
    return f"wrote {len(data):,} bytes to {os.path.normpath(path.strip())}"


def _describe_delete(a: dict) -> str:
    paths = a["paths"]
    count = len(paths) if isinstance(paths, list) else 1
    return f"delete {count} file{'' if count == 1 else 's'}: {_names(paths)}"


@tool("high", describe=_describe_delete, paths=("paths",))
def delete_files(workspace: Workspace, paths: list[str]) -> str:
    """Delete files (not folders) from the workspace and report what happened to each.

    Args:
        paths: The files to delete, relative to the workspace.
    """
    if not paths:
        raise ToolError("paths is empty; name at least one file to delete")
    # Check every path before deleting any, so a bad path deletes nothing.
    for path in paths:
        # The link itself is onloop's when its name is, whatever it points to.
        workspace.writable(path)
    report = []
    for path in dict.fromkeys(paths):
        what = delete_file(workspace, path)  # removes a link itself, never what it points to
        if what == "deleted":
            report.append(f"deleted {path}")
        elif what == "folder":
            report.append(f"skipped {path}: it is a folder (delete_files removes files only)")
        else:
            report.append(f"skipped {path}: no such file")
    return "\n".join(report)


@tool("high", describe=lambda a: f"run shell command: {a['command']}", commands=("command",))
def run_shell(
    workspace: Workspace, command: str, timeout_s: int = 20, tool_context: ToolContext | None = None
) -> str:
    """Run a shell command in the workspace folder and return its exit code and output.

    The command runs in a sandbox: the workspace is the only writable place and the only user
    data it can see, with no network unless the policy grants it.

    Args:
        command: The command line, run by /bin/sh with the workspace as current directory.
        timeout_s: Seconds before the command and all its child processes are killed (1-300).
    """
    context = tool_context or ToolContext()
    low, high = TIMEOUT_RANGE
    if not low <= timeout_s <= high:
        raise ToolError(f"timeout_s must be between {low} and {high} seconds, got {timeout_s}")
    if not command.strip():
        raise ToolError("command is empty; give a shell command line such as 'ls -la'")
    workspace.root.mkdir(parents=True, exist_ok=True)
    try:
        result = run_command(
            command,
            cwd=workspace.real_root,
            timeout_s=timeout_s,
            cancel=context.cancel,
            confined=not context.unconfined_shell,
            network=context.network,
            limits=context.limits,
            budget=context.disk,
            protected=workspace.protected,
        )
    except SandboxUnavailable as exc:
        raise ToolError(f"run_shell is not available: {exc}") from None
    text = "\n".join(
        part
        for part in (
            _stream("stdout", result.stdout, result.stdout_bytes),
            _stream("stderr", result.stderr, result.stderr_bytes),
        )
        if part
    )
    if result.removed:
        text += (
            f"\n[onloop removed what the command created where onloop reads its own files: "
            f"{', '.join(result.removed)}; onloop's own files are not the agent's to write]"
        )
    if result.cancelled:
        raise ToolError(f"{STOPPED_BY_HALT}. Output so far:\n" + (text or "(none)"))
    if result.over_budget is not None:
        raise ToolError(
            f"the command was stopped and its processes ended: {result.over_budget}. "
            "Output so far:\n" + (text or "(none)")
        )
    if result.timed_out:
        raise ToolError(
            f"the command timed out after {timeout_s} s and was killed with its child "
            f"processes; raise timeout_s or run something shorter. Output so far:\n"
            + (text or "(none)")
        )
    return f"exit code {result.exit_code}\n" + (text or "(no output)")


def _stream(label: str, text: str, total: int) -> str:
    if not total:
        return ""
    body = text.rstrip("\n")
    if total > OUTPUT_CAP:
        body += f"\n[{label} truncated: showing the first {OUTPUT_CAP:,} of {total:,} bytes]"
    return f"--- {label} ---\n{body}"


_BUILTINS: tuple[Tool, ...] = (
    calculator,
    current_time,
    list_files,
    read_file,
    write_file,
    delete_files,
    run_shell,
    fetch_url,
)


ENTRY_SLACK = 64 * 1024  # what one file or folder entry may add beyond its content (blocks)


def disk_growth_bound(tool: Tool, arguments: dict) -> int | None:
    """At most how many bytes one call of a built-in file tool adds to the workspace (reads and
    lists none; a write its content, a block per path part and the file's own), or None for any
    other tool: its growth is measured by walking the workspace."""
    if tool.fn in (read_file.fn, list_files.fn, calculator.fn, current_time.fn):
        return 0
    if tool.fn is write_file.fn and isinstance(arguments.get("content"), str):
        parts = str(arguments.get("path", "")).count("/") + 2
        return len(arguments["content"].encode("utf-8", "surrogatepass")) + parts * ENTRY_SLACK
    return None


def builtin_tools() -> dict[str, Tool]:
    """The built-in tools by name (a new dict each call, so callers may filter it)."""
    return {t.name: t for t in _BUILTINS}


@dataclass(frozen=True)
class ShellOffer:
    """Whether this machine offers the shell to a run, and how: what every surface shows."""

    mode: Literal["sandboxed", "unconfined", "unavailable"]
    network: bool = False
    reason: str = ""  # why the shell is not offered (and how to fix it), or the opt-in's warning

    def describe(self) -> str:
        if self.mode == "sandboxed":
            net = "network granted by the policy" if self.network else "no network"
            return f"shell: sandboxed (bubblewrap; workspace only; {net})"
        if self.mode == "unconfined":
            return f"shell: UNCONFINED: {self.reason}"
        return f"shell: not offered: {self.reason}"


UNCONFINED_WARNING = (
    "the policy opts in to an unconfined shell ([sandbox] unconfined_shell = true): commands "
    "can read and write whatever the worker's user can, and use the network"
)


def shell_offer(*, unconfined_shell: bool = False, network: bool = False) -> ShellOffer:
    """How the shell is offered here: in the sandbox, unconfined by an explicit opt-in, or not."""
    if unconfined_shell:  # explicit in the policy file: it holds even where bwrap would work
        return ShellOffer("unconfined", True, UNCONFINED_WARNING)
    status = sandbox_status()
    if status.available:
        return ShellOffer("sandboxed", network)
    return ShellOffer(
        "unavailable",
        reason=f"{status.reason}; or opt in to an unconfined shell in the policy file "
        "([sandbox] unconfined_shell = true)",
    )


def offered_tools(tools: dict[str, Tool], offer: ShellOffer) -> dict[str, Tool]:
    """`tools` minus the ones that start processes, when the shell is not offered."""
    if offer.mode != "unavailable":
        return dict(tools)
    return {name: t for name, t in tools.items() if name not in PROCESS_TOOLS}
