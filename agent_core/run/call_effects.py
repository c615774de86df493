"""What one tool call aims at, by target rather than by tool: the files it reads, writes and
deletes, the command line it runs (and whether that line is a check: tests, a build, a linter),
the URL it fetches. `rm x.txt` in a shell and `delete_files(["x.txt"])` aim at one target."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from agent_core.oversight.shell_commands import Invocation, read_command_line
from agent_core.oversight.targets import call_targets
from agent_core.tools import Tool
from agent_core.tools.workspace import Workspace

_DELETERS = frozenset({"rm", "unlink", "shred"})
_WRITERS = frozenset({"touch", "tee", "truncate"})
_IN_PLACE = frozenset({"sed", "perl"})
_REDIRECT = re.compile(r"(?:^|[^<0-9&>])(?:[0-9]?>>?|&>>?)\s*([^\s;&|<>()]+)")
_CHECKERS = {
    **{p: p for p in "pytest tox nox jest vitest mocha tsc ruff mypy flake8 pylint eslint".split()},
    **{p: p for p in "rspec phpunit ctest mvn gradle pyright black prettier".split()},
    "py.test": "pytest",
    "./gradlew": "gradle",
}
# Programs whose subcommand makes them a check: `cargo test`, `npm run build`, `make`.
_SUBCOMMANDS = {
    "cargo": {"test", "build", "check", "clippy"},
    "go": {"test", "build", "vet"},
    "npm": {"test", "build", "lint", "run", "t"},
    "yarn": {"test", "build", "lint", "run"},
    "pnpm": {"test", "build", "lint", "run"},
    "bun": {"test", "run"},
    "dotnet": {"test", "build"},
    "deno": {"test", "check", "lint"},
    "bazel": {"test", "build"},
}
# Programs that run another program: `npx jest`, `bundle exec rspec`, `pipenv run pytest`
# (the word before it, when there is one, that must come first: `exec`, `run`).
_RUNNERS = {
    **{p: "" for p in ("npx", "bunx", "pnpx", "yarn", "pnpm")},
    **{p: "run" for p in ("pipenv", "pdm", "rye", "hatch", "conda")},
    "bundle": "exec",
}
_MODULES = frozenset({"pytest", "unittest", "mypy", "ruff", "compileall", "doctest", "tox"})
_PYTHON = re.compile(r"(python|pypy)[0-9.]*")
_TEST_SCRIPT = re.compile(
    r"(^|/)((test|build|check|lint|verify)[\w.-]*|[\w.-]*_tests?\.\w+|run_tests?[\w.-]*)$"
)
_SCRIPT_RUNNERS = re.compile(r"(python|pypy)[0-9.]*|node|sh|bash|ruby|perl")


@dataclass(frozen=True)
class Effects:
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    deletes: tuple[str, ...] = ()
    command: str | None = None  # the shell line, as sent
    check: str | None = None  # the kind of check the line runs ("pytest", "make test")
    url: str | None = None


def effects_of(
    name: str, tool: Tool | None, arguments: dict[str, Any], workspace: Workspace | None
) -> Effects:
    """The call's effects as the arguments name them (globs expanded in the workspace as it is
    now: before the call runs, so `rm *.tmp` names the files it is about to delete)."""
    if name == "read_file":
        return Effects(reads=_paths(arguments.get("path")))
    if name == "write_file":
        return Effects(writes=_paths(arguments.get("path")))
    if name == "delete_files":
        return Effects(deletes=_paths(arguments.get("paths")))
    if name == "fetch_url" and isinstance(arguments.get("url"), str):
        return Effects(url=arguments["url"].strip())
    if isinstance(arguments.get("command"), str) and (tool is None or tool.argument_kinds.commands):
        return shell_effects(arguments["command"], tool, arguments, workspace)
    if tool is None:
        return Effects()
    paths = tuple(p for arg in tool.argument_kinds.paths for p in _paths(arguments.get(arg)))
    return Effects(reads=paths) if tool.risk == "low" else Effects(writes=paths)


def shell_effects(
    command: str, tool: Tool | None, arguments: dict[str, Any], workspace: Workspace | None
) -> Effects:
    line = read_command_line(command)
    writes = [w for w in _REDIRECT.findall(command) if not w.startswith(("/dev/", "&"))]
    deletes: list[str] = []
    for invocation in line.invocations:
        changed, removed = _changes(invocation)
        writes += changed
        deletes += removed
    reads: list[str] = []
    if workspace is not None and tool is not None:
        named = {_normal(p) for p in [*writes, *deletes]}
        root = workspace.real_root
        for part in call_targets(arguments, tool.argument_kinds, workspace, tool.name).parts:
            if part.path is None or part.path.unexpanded_glob:
                continue
            path = part.path.spellings[0]
            if _glob(path) or path in named or not (root / path).is_file():
                continue
            program = part.invocation.program if part.invocation is not None else ""
            (deletes if program in _DELETERS else reads).append(path)  # a glob's files
    return Effects(
        reads=_unique(reads),
        writes=_unique(_normal(p) for p in writes if not _glob(p)),
        deletes=_unique(_normal(p) for p in deletes if not _glob(p)),
        command=command.strip(),
        check=check_of(line.invocations),
    )


def _changes(invocation: Invocation) -> tuple[list[str], list[str]]:
    """The files one program of a line writes and deletes, from its operands."""
    program, operands = invocation.program, list(invocation.operands)
    if program in _DELETERS:
        return [], operands
    if program in _WRITERS:
        return operands, []
    if program in ("cp", "install") and len(operands) >= 2:
        return _into(operands[-1], operands[:-1]), []
    if program == "mv" and len(operands) >= 2:
        return _into(operands[-1], operands[:-1]), operands[:-1]
    if program in _IN_PLACE and any(f.startswith("-i") for f in invocation.flags):
        return (operands[1:] if "-e" not in invocation.flags else operands), []
    return [], []


def check_of(invocations: list[Invocation]) -> str | None:
    """What check a command line runs (tests, a build, a type checker), or None."""
    for invocation in invocations:
        program, operands = invocation.program, invocation.operands
        if program in _CHECKERS:
            return _CHECKERS[program]
        if (wrapped := _run_by(program, operands)) in _CHECKERS:
            return _CHECKERS[wrapped]
        if program == "node" and "--test" in invocation.flags:
            return "node --test"
        if program == "make":
            return " ".join(["make", *operands[:1]])
        sub = operands[0] if operands else ""
        if sub in _SUBCOMMANDS.get(program, ()):
            if sub == "run" and len(operands) > 1:
                return f"{program} run {operands[1]}"
            return f"{program} {sub}"
        if _PYTHON.fullmatch(program) and "-m" in invocation.flags and sub in _MODULES:
            return sub
        if _SCRIPT_RUNNERS.fullmatch(program) and sub and _TEST_SCRIPT.search(sub):
            return f"{program} {sub}"
        if _TEST_SCRIPT.search(program) and program.startswith("./"):
            return program
    return None


def _run_by(runner: str, operands: tuple[str, ...]) -> str:
    """The program a runner (`npx`, `bundle exec`, `pipenv run`) runs, or ""."""
    lead = _RUNNERS.get(runner)
    if lead is None or not operands:
        return ""
    if operands[0] == (lead or "exec"):  # `pnpm exec jest`, `yarn exec vitest` too
        return operands[1] if len(operands) > 1 else ""
    return "" if lead else operands[0]


def _into(destination: str, sources: list[str]) -> list[str]:
    """`cp a b dir/` writes dir/a and dir/b; `cp a b` writes b."""
    if destination.endswith("/") or len(sources) > 1:
        return [posixpath.join(destination, posixpath.basename(s)) for s in sources]
    return [destination]


def _paths(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return _unique(_normal(v) for v in items if isinstance(v, str) and v.strip())


def _normal(path: str) -> str:
    text = path.strip().replace("\\", "/")
    return posixpath.normpath(text).removeprefix("./") if text else text


def _glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))
