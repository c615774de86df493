"""Scoped allowances: what "allow…" on an approval may cover, narrowest first.

A person who approves a call may also allow, for the rest of the run, calls like it:

- `call`    this exact call again (same tool, same arguments);
- `prefix`  shell commands starting the same way (`git commit *`, `pytest *`);
- `folder`  the same tool on paths under the same folder (`write_file` under `docs/`); for a
            call riskier than a write (a manifest, CI config, a destructive edit) only `file`,
            the same tool on the same files (`write_file` to `pyproject.toml`);
- `domain`  `fetch_url` to the same host (`fetch_url` to `docs.python.org`); another tool with a
            `url` may send as well as read, and offers no domain scope.

Every scope but `call` becomes an allow rule (oversight/policy.py `Rule`) whose `up_to` is the
approved call's class: it covers later calls of that class or a milder one, never a riskier one
(`pip install *` allowed for a plain install does not cover one that deletes a folder). The policy's deny
rules still win over it, a command the policy cannot fully read still asks, and an ask that needs
an admin is never lifted by it. A call that could not be classified offers only `call`: a rule
without a ceiling could widen to anything.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any, Literal

from agent_core.oversight.call_classes import Classified, classify_part, severest
from agent_core.oversight.git_classes import lead_options
from agent_core.oversight.policy import Rule
from agent_core.oversight.program_classes import reaches_any_host
from agent_core.oversight.shell_commands import Invocation
from agent_core.oversight.targets import CallTargets, call_targets, guess_kinds
from agent_core.oversight.web_gate import WEB_TOOL
from agent_core.tools.decorator import ArgumentKinds
from agent_core.tools.host_names import url_host
from agent_core.tools.workspace import Workspace
from storage.vocabulary import CLASS_RANK, CallClass

WRITE_RANK = CLASS_RANK[CallClass.WRITE]

ScopeKind = Literal["call", "prefix", "file", "folder", "domain"]
# Programs whose first operand is a subcommand: the prefix keeps it (`git commit`, `npm test`).
_SUBCOMMANDS = frozenset(
    {
        "git", "npm", "pnpm", "yarn", "cargo", "go", "docker", "podman", "kubectl", "helm",
        "pip", "pip3", "uv", "poetry", "gh", "make", "just", "tox", "nox", "brew", "apt",
        "apt-get", "dotnet", "mvn", "gradle", "bundle", "rake", "terraform", "conda", "hatch",
    }
)  # fmt: skip
# ... and those whose second operand is one too (`npm run build`; what `uv run` runs is a part
# of its own, oversight/shell_commands.py), or the setting changed (`git config user.name`: a yes
# to it never covers `remote.origin.url`, where the next push goes; `git remote add`, never
# `git remote set-url origin`).
_TWO_WORDS = {("npm", "run"), ("pnpm", "run"), ("yarn", "run"), ("git", "config"),
              ("git", "remote")}  # fmt: skip
_MODULE_RUNNERS = frozenset({"python", "python3", "py"})  # `python -m pytest` -> that module


@dataclass(frozen=True)
class Scope:
    """One way to allow calls like an approved one for the rest of a run."""

    kind: ScopeKind
    label: str  # plain words for a button or a prompt: "`git commit *` commands"
    rule: Rule | None  # the allow rule it becomes; None for `call` (the exact arguments' hash)

    def rule_dict(self) -> dict[str, Any] | None:
        return None if self.rule is None else self.rule.model_dump(exclude_defaults=True)


def offered_scopes(
    tool: str,
    risk: str,
    arguments: dict[str, Any],
    kinds: ArgumentKinds | None = None,
    workspace: Workspace | None = None,
) -> list[Scope]:
    """The scopes a person may pick when approving this call, narrowest first; `call` always."""
    kinds = kinds if kinds is not None and kinds != ArgumentKinds() else guess_kinds(arguments)
    targets = call_targets(arguments, kinds, workspace, tool)
    scopes = [Scope("call", "this exact call", None)]
    if targets.escape is not None or targets.doubts:
        return scopes  # a call the policy cannot fully read is allowed once at a time
    classified = severest(
        classify_part(tool, risk, arguments, part, workspace) for part in targets.parts
    )
    if classified.call_class is None:
        return scopes
    folder = _folder(kinds, targets, tool, narrow=CLASS_RANK[classified.call_class] > WRITE_RANK)
    made = (_prefix(tool, kinds, targets), folder, _domain(tool, arguments))
    scopes.extend(_capped(m, classified) for m in made if m is not None)
    return scopes


def _capped(made: tuple[ScopeKind, str, Rule], classified: Classified) -> Scope:
    kind, label, rule = made
    ceiling = classified.call_class
    rule = rule.model_copy(
        update={
            "up_to": ceiling,
            "name": f"allowed for the run: {label} (up to {ceiling})",
            "reason": f"a person allowed {label} for the rest of the run, up to {ceiling} calls",
        }
    )
    return Scope(kind, label, Rule.model_validate(rule.model_dump()))  # validated again


def _prefix(
    tool: str, kinds: ArgumentKinds, targets: CallTargets
) -> tuple[ScopeKind, str, Rule] | None:
    if not kinds.commands:
        return None
    invocations = list(
        dict.fromkeys(p.invocation for p in targets.parts if p.invocation is not None)
    )
    if any(reaches_any_host(i) for i in invocations):
        return None  # `curl *` would cover any host and any upload: the exact call only
    prefixes = list(dict.fromkeys(command_prefix(i) for i in invocations))
    if not prefixes:
        return None
    label = " and ".join(f"`{p} *`" for p in prefixes) + " commands"
    return "prefix", label, Rule(tool=tool, commands=prefixes, action="allow")


def command_prefix(invocation: Invocation) -> str:
    """The words a command starts with, as a command pattern: `git commit`, `npm run build`,
    `python -m pytest`, `pytest`."""
    program, operands = invocation.program, invocation.operands
    if program in _MODULE_RUNNERS and "-m" in invocation.flags and operands:
        return shlex.join([program, "-m", _literal(operands[0])])
    # git's -C DIR and -c KEY=VALUE come before the subcommand: kept, so that the prefix names
    # the subcommand (`git -C src commit`), never the folder (`git src`, any subcommand there)
    lead = lead_options(invocation) if program == "git" else []
    words = [program, *lead, *map(_literal, operands[: len(lead) + 1])]
    if program in _SUBCOMMANDS and len(operands) > len(lead):
        sub = operands[len(lead)]
        if sub.startswith(("/", ".")):
            return shlex.quote(program)
        if (program, sub) in _TWO_WORDS and len(operands) > len(lead) + 1:
            words.append(_literal(operands[len(lead) + 1]))
        return shlex.join(words)
    return shlex.quote(program)


def _literal(word: str) -> str:
    """A word as a command pattern matches it literally (`*` in it is no wildcard there)."""
    return re.sub(r"([*?\[])", r"[\1]", word)


def _folder(
    kinds: ArgumentKinds, targets: CallTargets, tool: str, narrow: bool
) -> tuple[ScopeKind, str, Rule] | None:
    if kinds.commands or not kinds.paths:
        return None  # a shell command's scope is its prefix
    names = [p.path.spellings[0] for p in targets.parts if p.path is not None]
    if not names:
        return None
    if narrow:  # riskier than a write: these files only, never their neighbours
        files = sorted(set(names))
        shown = ", ".join(f"`{n}`" for n in files[:3]) + (" and more" if len(files) > 3 else "")
        return (
            "file",
            f"`{tool}` to {shown}",
            Rule(tool=tool, paths=[f"/{n}" for n in files], action="allow"),
        )
    folders = {posixpath.dirname(n.rstrip("/")) for n in names}
    common = posixpath.commonpath(sorted(folders)) if len(folders) > 1 else folders.pop()
    if common in ("", "."):
        return (
            "folder",
            f"`{tool}` anywhere in the workspace",
            Rule(tool=tool, paths=["/**"], action="allow"),
        )
    return (
        "folder",
        f"`{tool}` under `{common}/`",
        Rule(tool=tool, paths=[f"/{common}/"], action="allow"),
    )


def _domain(tool: str, arguments: dict[str, Any]) -> tuple[ScopeKind, str, Rule] | None:
    """`fetch_url` to the host: a GET and nothing else. Another tool with a `url` (an MCP
    `request`, a browser's `navigate`) takes or may take a method, a body, a form to submit:
    a yes to one GET of a host would cover a DELETE or an upload to it."""
    host = url_host(arguments.get("url"))
    if host is None or tool != WEB_TOOL:
        return None
    return "domain", f"`{tool}` to {host}", Rule(tool=tool, domains=[host], action="allow")
