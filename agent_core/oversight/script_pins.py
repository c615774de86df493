"""The workspace scripts a call runs, pinned to their content: what an exact-call allowance of a
script holds to.

A person who allows `./deploy.sh` for the rest of a run allows the script as it is when they
say yes. The call's arguments stay the same when the run rewrites the script, so an allowance
keyed on them alone let the rewritten script run unasked. An exact-call allowance therefore
keeps, beside the arguments, the content digest of every workspace script the command runs by
path (`./deploy.sh`, `tools/x`, the workspace's own absolute path) or through an interpreter
(`bash deploy.sh`, `python3 tool.py`, `node x.js`, `deno run x.ts`...); the same call covers
only while each still has that content (oversight.policy.RunAllowance).

Not pinned (the call asks every time instead): a command whose script the text does not show
(a change of folder first, code down a pipe, `eval`, `sh -c "$(...)"`, `find -exec sh {}`). Not
seen: what a script imports or sources in turn (`python3 tool.py` pins tool.py, not the helper
it imports).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable

from agent_core.oversight.shell_commands import Invocation
from agent_core.tools.errors import WorkspaceEscape
from agent_core.tools.workspace import Workspace

Pins = tuple[tuple[str, str], ...]  # (the script as the command names it, its content digest)
READ_CAP = 4 << 20  # bytes digested; a longer script adds its size
_INTERPRETERS = frozenset(
    {"python", "python3", "py", "pypy", "pypy3", "node", "nodejs", "ruby", "perl", "php",
     "bash", "sh", "zsh", "dash", "ksh", "mksh", "fish", "lua", "luajit", "Rscript", "tclsh",
     "wish", "deno", "bun", "tsx", "ts-node", "pwsh", "elixir", "julia", "swift", "groovy",
     "source", ".", "npx", "bunx", "pnpx"}
)  # fmt: skip
_VERSIONED = re.compile(r"^(python|pypy|ruby|perl|php|lua)\d+(\.\d+)*$")
_RUN_SUBCOMMAND = frozenset({"deno", "bun"})  # `deno run x.ts`, `bun run x.ts`
_MOVES = frozenset({"cd", "pushd", "popd"})
# Flags after which an interpreter runs code given on the line, or a module, not a script file.
_NOT_A_FILE = frozenset({"-m", "-c", "-e", "-E", "--eval", "-p", "--print", "-r", "--require"})
_DYNAMIC = re.compile(r"[$`]")  # text the shell fills in when it runs: not readable here


def scripts_run(invocations: Iterable[Invocation]) -> tuple[tuple[str, ...], ...] | None:
    """What the invocations may run as scripts: for each, the words one of which names the file
    (an interpreter's operands in order: which is the script depends on its options, so the
    first that exists is taken, those before it pinned as absent). None when what runs cannot
    be told from the text: a change of folder, code read from a pipe, `eval`, a file a `find
    -exec` or `{}` fills in, a program or inline code the shell fills in when it runs."""
    found: list[tuple[str, ...]] = []
    moved = False
    for invocation in invocations:
        program = invocation.program
        if program in _MOVES:
            moved = True
        if program == "eval" or _DYNAMIC.search(program):
            return None
        if "/" in program:
            if invocation.each_file:
                return None
            found.append((program,))
            continue
        if program not in _INTERPRETERS and not _VERSIONED.match(program):
            continue
        if invocation.each_file or any("{}" in word for word in invocation.operands):
            return None
        if invocation.flags & _NOT_A_FILE:  # code on the line is in the call's arguments
            if any(_DYNAMIC.search(word) for word in invocation.words):
                return None
            continue
        operands = invocation.operands
        if program in _RUN_SUBCOMMAND and operands[:1] == ("run",):
            operands = operands[1:]
        if operands:
            found.append(tuple(operands))
            continue
        read_from = tuple(p.text for p in invocation.paths if p.text not in invocation.writes)
        if read_from:  # `sh < deploy.sh`
            found.append(read_from)
        elif invocation.stdin is None:  # `cat x | sh`: the code comes down a pipe
            return None
    if moved and found:
        return None
    return tuple(found)


def pins(invocations: Iterable[Invocation], workspace: Workspace | None) -> Pins | None:
    """Each workspace script the invocations run, with its content's digest now; () when they
    run none; None when they run scripts this cannot pin (see scripts_run; no workspace)."""
    scripts = scripts_run(invocations)
    if scripts is None:
        return None
    if not scripts:
        return ()
    if workspace is None:
        return None
    pinned: dict[str, str] = {}
    for words in scripts:
        for name in words:  # up to the first that is a file: the script
            pinned[name] = _content(workspace, name)
            if pinned[name] not in ("absent", "outside"):
                break
    return tuple(sorted(pinned.items()))


def _content(workspace: Workspace, name: str) -> str:
    """The digest of the file `name` runs in the workspace ("absent" if there is none; "outside"
    for a program outside it, which the run cannot rewrite through its workspace)."""
    relative = name
    if os.path.isabs(name):
        root = str(workspace.real_root)
        real = os.path.realpath(name)
        if real != root and not real.startswith(root + os.sep):
            return "outside"
        relative = os.path.relpath(real, root)
    try:
        path = workspace.resolve(relative)
    except WorkspaceEscape:
        return "outside"
    try:
        with open(path, "rb") as handle:
            data = handle.read(READ_CAP + 1)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        return "absent"
    except OSError as error:  # a folder, no permission: named, so a change to it shows
        return f"unreadable: {error.strerror}"
    digest = hashlib.sha256(data[:READ_CAP]).hexdigest()
    return digest if size <= READ_CAP else f"{digest}+{size}"
