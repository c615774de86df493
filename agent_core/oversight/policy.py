"""The policy: one place that turns a tool call into a verdict (allow, ask or deny) and says why."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from agent_core.models.settings import ModelLimits
from agent_core.oversight import user_regex
from agent_core.oversight.call_classes import Classified, classify_part, severest
from agent_core.oversight.command_patterns import command_pattern
from agent_core.oversight.monitor_settings import MonitorSettings
from agent_core.oversight.notify_settings import NotifySettings, WebhookChannel
from agent_core.oversight.path_patterns import any_path_matches, glob_may_match, path_matches
from agent_core.oversight.redact import SECRET_MARKERS
from agent_core.oversight.script_pins import Pins, pins
from agent_core.oversight.targets import (
    LEXICAL_ROOT,
    CallTargets,
    Part,
    PathTarget,
    call_targets,
    guess_kinds,
)
from agent_core.tools.canonical import args_hash
from agent_core.tools.decorator import ArgumentKinds, Tool
from agent_core.tools.host_names import canonical_pattern, url_host
from agent_core.tools.mcp_config import ENV_PREFIX, McpServerSettings
from agent_core.tools.protected import SECRET
from agent_core.tools.workspace import Workspace
from storage.vocabulary import CLASS_RANK, Autonomy, CallClass, Risk

Verdict = Literal["allow", "ask", "deny"]  # what a rule may say: storage.Verdict but `invalid`
ApproveRole = Literal["approver", "admin"]  # who may approve what an ask rule asks about
_STRENGTH = {"allow": 0, "ask": 1, "deny": 2}
OWN_FILES_RULE = "onloop's own files"
READING_TOOLS = ("read_file", "list_files")  # may read onloop's files (not the secret ones)

# What each autonomy level asks a human about when no rule matches.
ASKS_FOR: dict[str, frozenset[str]] = {
    Autonomy.MANUAL: frozenset(Risk),
    Autonomy.SUPERVISED: frozenset({Risk.MEDIUM, Risk.HIGH}),
    Autonomy.AUTONOMOUS: frozenset({Risk.HIGH}),
}


class Rule(BaseModel):
    """A rule: which calls it matches (tool glob, argument, path and command patterns) and its action.

    Path patterns (`paths`, and `args.path`) see the canonical path a tool will really touch;
    command patterns see each program a shell command line runs, with its flags normalised.
    """

    model_config = ConfigDict(extra="forbid")

    tool: str = "*"
    # argument name -> "glob" or "re:REGEX" (or a list: any of them); `path` means every path
    args: dict[str, str | list[str]] = Field(default_factory=dict)
    paths: list[str] = Field(default_factory=list)  # path patterns, for every path of every tool
    commands: list[str] = Field(default_factory=list)  # command patterns such as "rm -r"
    domains: list[str] = Field(default_factory=list)  # host globs of a `url` argument
    action: Verdict
    reason: str = ""
    name: str | None = None
    # An ask rule may need more than the approver role to approve (and an edit into it too).
    approve_role: ApproveRole | None = None
    # An allow rule may cover only calls of this class or a milder one (storage.CLASS_RANK):
    # a part of another class, or one that could not be classified, is not matched. Every scoped
    # allowance and every rule made from a decision carries one, so it never widens.
    up_to: CallClass | None = None

    @field_validator("up_to")
    @classmethod
    def _ceiling_on_allow_rules(
        cls, ceiling: CallClass | None, info: ValidationInfo
    ) -> CallClass | None:
        if ceiling is not None and info.data.get("action") != "allow":
            raise ValueError('up_to applies to allow rules only (action = "allow")')
        return ceiling

    @field_validator("approve_role")
    @classmethod
    def _role_on_ask_rules(
        cls, role: ApproveRole | None, info: ValidationInfo
    ) -> ApproveRole | None:
        if role is not None and info.data.get("action") != "ask":
            raise ValueError('approve_role applies to ask rules only (action = "ask")')
        return role

    @field_validator("args")
    @classmethod
    def _regexes_compile(cls, patterns: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for arg, given in patterns.items():
            for pattern in [given] if isinstance(given, str) else given:
                _check_regex(pattern, f"argument pattern for {arg!r}")
        return patterns

    @field_validator("paths")
    @classmethod
    def _path_regexes_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            _check_regex(pattern, f"path pattern {pattern!r}")
        return patterns

    @field_validator("commands")
    @classmethod
    def _commands_parse(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            command_pattern(pattern)  # ValueError names the problem
        return patterns

    def label(self, index: int) -> str:
        return self.name or f"rule {index + 1} ({self.tool} -> {self.action})"

    def matches(
        self,
        tool: str,
        arguments: dict[str, Any],
        part: Part | None = None,
        kinds: ArgumentKinds | None = None,
        part_class: CallClass | None = None,
    ) -> bool:
        """Whether this rule covers one part of a call (a path it touches, a program it runs),
        whose class (oversight/call_classes.py) is `part_class`.

        Deny and ask rules match when any spelling of the part matches; allow rules only when
        every spelling does (a link `notes.md -> .env` is not allowed by a rule for `*.md`).
        """
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        if self.up_to is not None and (
            part_class is None or CLASS_RANK[CallClass(part_class)] > CLASS_RANK[self.up_to]
        ):
            return False
        part = part if part is not None else Part()
        kinds = kinds if kinds is not None else ArgumentKinds()
        loose = self.action != "allow"
        if self.paths and (part.path is None or not _path_hit(self.paths, part.path, loose)):
            return False
        if self.domains and not _domain_hit(self.domains, arguments.get("url"), loose):
            return False
        if self.commands and (
            part.invocation is None
            or not any(command_pattern(c).matches(part.invocation) for c in self.commands)
        ):
            return False
        if self.commands and self.up_to is not None and _other_hosts(part, self.commands):
            return False  # a yes to `pip install *` is no yes to `pip install -i https://evil…`
        return all(
            _argument_hit(key, [p] if isinstance(p, str) else p, arguments, part, kinds, loose)
            for key, p in self.args.items()
        )


_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"]*", re.IGNORECASE)


def _named_hosts(words: list[str]) -> set[str]:
    """The hosts the URLs among `words` name (a URL whose host cannot be read, as itself)."""
    return {url_host(url) or url for word in words for url in _URL.findall(word)}


def _other_hosts(part: Part, patterns: list[str]) -> bool:
    """Whether a command names a URL whose host its command patterns do not name. A capped
    allow rule (one a person's yes made, or a project's) stands for the source its words show:
    the registry a bare `pip install` or `npm install` uses, or the hosts a pattern names
    (`pip install -i https://pypi.corp.example/simple`); an index, registry or package URL
    named only in the call is another host nobody agreed to."""
    invocation = part.invocation
    if invocation is None:
        return False
    named = _named_hosts([*invocation.words, *(w.text for w in invocation.paths)])
    urls = [url for p in patterns for url in _URL.findall(p)]
    agreed = {canonical_pattern(urlsplit(url).hostname or url) for url in urls}
    return any(not any(fnmatch.fnmatchcase(h, a) for a in agreed) for h in named)


def _domain_hit(patterns: list[str], url: Any, loose: bool) -> bool:
    """Whether the URL's host matches a host glob, both in their canonical spelling (IDNA ASCII,
    lower case, one form per address); a URL without a readable host matches deny and ask rules
    (fail closed), never allow rules."""
    host = url_host(url)
    if host is None:
        return loose
    return any(fnmatch.fnmatchcase(host, canonical_pattern(p)) for p in patterns)


def _check_regex(pattern: str, what: str) -> None:
    if pattern.startswith("re:"):
        why = user_regex.problem(pattern[3:])
        if why is not None:
            raise ValueError(f"{what} is not a valid regex: {why}")


def _argument_hit(key, patterns, arguments, part: Part, kinds: ArgumentKinds, loose) -> bool:
    if key in kinds.commands:  # a command line: each program it runs, never the raw text alone
        texts = [part.invocation.text] if part.invocation is not None else []
        if loose:
            texts.append(str(arguments.get(key, "")))
        return any(_text_hit(p, t) for p in patterns for t in texts)
    if key == "path" or key in kinds.paths:
        target = part.path
        if target is None or (key != "path" and target.argument != key):
            return False
        return _path_hit(patterns, target, loose)
    value = arguments.get(key)
    if value is None:
        return False
    values = value if isinstance(value, list) else [value]
    hits = [any(_text_hit(p, str(v)) for p in patterns) for v in values]
    return any(hits) if loose else bool(hits) and all(hits)


def _text_hit(pattern: str, text: str) -> bool:
    if pattern.startswith("re:"):
        return user_regex.search(pattern[3:], text)  # PatternTooSlow: decide() denies
    return fnmatch.fnmatchcase(text, pattern)


def _path_hit(patterns: list[str], target: PathTarget, loose: bool) -> bool:
    def hit(pattern: str, name: str) -> bool:
        if loose and target.unexpanded_glob:
            return glob_may_match(pattern, name)
        return path_matches(pattern, name)

    names = target.every(loose)
    if not (loose and target.unexpanded_glob):  # one regex for all the patterns: folder walks
        together = tuple(patterns)
        found = [any_path_matches(together, n) for n in names]
        return any(found) if loose else all(found)
    return any(hit(p, n) for p in patterns for n in names)


class ClassVerdicts(BaseModel):
    """What a call of one class gets under each autonomy level when no rule matches it."""

    model_config = ConfigDict(extra="forbid")

    manual: Verdict = "ask"
    supervised: Verdict = "ask"
    autonomous: Verdict = "ask"


def _verdicts(manual: Verdict, supervised: Verdict, autonomous: Verdict) -> ClassVerdicts:
    return ClassVerdicts(manual=manual, supervised=supervised, autonomous=autonomous)


# The shipped `[classes]` table (default_policy.toml says the same; a test keeps them equal).
SHIPPED_CLASSES: dict[CallClass, ClassVerdicts] = {
    CallClass.READ: _verdicts("ask", "allow", "allow"),
    CallClass.BUILD: _verdicts("ask", "allow", "allow"),
    CallClass.WRITE: _verdicts("ask", "allow", "allow"),
    CallClass.NETWORK: _verdicts("ask", "ask", "ask"),
    CallClass.INSTALL: _verdicts("ask", "ask", "ask"),
    CallClass.GUARDED: _verdicts("ask", "ask", "ask"),
    CallClass.DESTRUCTIVE: _verdicts("ask", "ask", "ask"),
    CallClass.ESCALATION: _verdicts("ask", "ask", "ask"),
}


# The largest numbers the policy's limits take: past any real use, inside what setrlimit, the
# clock and the store hold (a larger one failed every shell call of a run, or its deadline).
YEAR_SECONDS = 31_536_000
MOST_MB = 1 << 30  # a petabyte
MOST_PROCESSES = 4_194_304  # the kernel's largest pid_max

MIN_WRITTEN_CHARS = 8  # a shorter value written in the file (`X-Team = "blue"`) is no secret


class SandboxSettings(BaseModel):
    """What processes a tool starts may do, and which secrets are redacted (`[sandbox]`)."""

    model_config = ConfigDict(extra="forbid")

    network: bool = False  # grant sandboxed commands the network
    unconfined_shell: bool = False  # run the shell without the sandbox: an explicit opt-in
    secret_env: list[str] = Field(default_factory=list)  # env var names whose values are secret
    secret_patterns: list[str] = Field(default_factory=list)  # regexes of secret text
    cpu_seconds: int = Field(default=60, ge=1, le=YEAR_SECONDS)
    memory_mb: int = Field(default=2048, ge=64, le=MOST_MB)
    file_mb: int = Field(default=256, ge=1, le=MOST_MB)
    processes: int = Field(default=256, ge=8, le=MOST_PROCESSES)
    # How much the workspace (and MCP servers' paths) may grow in one session of a run.
    disk_mb: int = Field(default=1024, ge=1, le=MOST_MB)

    @field_validator("secret_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            why = user_regex.problem(pattern)
            if why is not None:
                raise ValueError(f"secret pattern {pattern!r} is not a valid regex: {why}")
        return patterns


class PolicyOrigin(BaseModel):
    """The file a policy was read from, and its digest then: a run keeps the policy recorded
    when it was queued, and says so when the file has changed since."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str  # absolute
    sha256: str


class Policy(BaseModel):
    """Rules plus the oversight settings that travel with them; each run stores the one it ran under."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    approval_timeout_s: float | None = Field(default=None, gt=0, le=YEAR_SECONDS)
    webhook_url: str | None = None  # older files: [notify.webhook] url says the same
    on_budget: Literal["pause", "halt", "fail"] = "pause"
    polling_tools: list[str] = Field(default_factory=list)
    # Tool-name globs whose calls are safe to repeat (idempotent or read-only): after a crash
    # mid-call the run resumes by itself and runs them again. None: the low-risk tools.
    repeat_on_recovery: list[str] | None = None
    monitors: MonitorSettings = Field(default_factory=MonitorSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    # Verdicts by what a call does (oversight/call_classes.py). A policy file always has them
    # (the shipped table for every class it does not set); a Policy built in code without them
    # decides by the tool's risk alone, as releases before classes did.
    classes: dict[CallClass, ClassVerdicts] | None = None
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    model: ModelLimits = Field(default_factory=ModelLimits)
    tools: list[str] = Field(default_factory=list)  # modules of your own @tool functions
    mcp_servers: list[McpServerSettings] = Field(default_factory=list)
    source: str = "built-in defaults"
    origin: PolicyOrigin | None = None  # set by load_policy, never by the file itself

    @field_validator("classes")
    @classmethod
    def _every_class(
        cls, given: dict[CallClass, ClassVerdicts] | None
    ) -> dict[CallClass, ClassVerdicts] | None:
        if given is None:
            return None
        return {c: given.get(c, SHIPPED_CLASSES[c]) for c in CallClass}

    def notifications(self) -> NotifySettings:
        """The `[notify]` table, with an older file's top-level webhook_url as its webhook."""
        if self.webhook_url and self.notify.webhook is None:
            old = WebhookChannel.model_construct(url=self.webhook_url)  # as it was: unchecked
            return self.notify.model_copy(update={"webhook": old})
        return self.notify

    def secret_names(self) -> list[str]:
        """The environment variables whose values are secret by this policy's word: its
        `secret_env`, and every variable it hands on as a credential (an MCP server's `env:NAME`
        header or environment, the e-mail password_env, the ntfy token_env), whatever its name."""
        names = list(self.sandbox.secret_env)
        for server in self.mcp_servers:
            for value in (*server.headers.values(), *server.env.values()):
                if value.startswith(ENV_PREFIX):
                    names.append(value[len(ENV_PREFIX) :])
        notify = self.notifications()
        names += [notify.email.password_env] if notify.email and notify.email.password_env else []
        names += [notify.ntfy.token_env] if notify.ntfy and notify.ntfy.token_env else []
        return names

    def written_secrets(self) -> dict[str, str]:
        """Credentials written in the file itself: an MCP server's header or environment value
        named like one (`Authorization = "Bearer ..."`, `API_KEY = "..."`) that is not
        `env:NAME`, and its last word (the token after `Bearer`). Other values (`NODE_ENV =
        "production"`) are settings, not secrets: redacting them would hide ordinary words."""
        found: dict[str, str] = {}
        for server in self.mcp_servers:
            for table, values in (("header", server.headers), ("env", server.env)):
                for key, value in values.items():
                    named = any(marker in key.upper() for marker in SECRET_MARKERS)
                    if not named or value.startswith(ENV_PREFIX) or not value.split():
                        continue
                    where = f"MCP {server.name} {table} {key}"
                    found |= {where: value, f"{where} token": value.split()[-1]}
        return {name: value for name, value in found.items() if len(value) >= MIN_WRITTEN_CHARS}

    @field_validator("mcp_servers")
    @classmethod
    def _server_names_unique(cls, servers: list[McpServerSettings]) -> list[McpServerSettings]:
        names = [s.name for s in servers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"MCP server names must be unique; given twice: {', '.join(twice)}")
        return servers


def repeatable(policy: Policy, tool: str, risk: str | None) -> bool:
    """Whether a call of `tool` that may have run may run again without a person (recovery)."""
    if policy.repeat_on_recovery is None:
        return risk == "low"
    return any(fnmatch.fnmatchcase(tool, glob) for glob in policy.repeat_on_recovery)


@dataclass(frozen=True)
class PolicyDecision:
    verdict: Verdict
    reason: str
    rule: str | None = None
    approve_role: ApproveRole = "approver"  # for `ask`: the role a person needs to approve it
    default: bool = False  # decided by the call's class (or tool's risk) and the autonomy level
    call_class: str | None = None  # what the call does: its riskiest part's class
    class_why: str = ""  # why it is that class, in a few words


@dataclass(frozen=True)
class Allowed:
    """One thing a person allowed for the rest of a run, with the approval that gave it: this
    exact call (`rule` None), or the allow rule a scope became (oversight/scopes.py)."""

    approval_id: int | None
    tool: str
    digest: str
    rule: Rule | None = None
    # The exact call's class when it was approved: the same arguments may later do more (empty
    # a file the run has since filled, weaken a test file) and then ask again. None: unclassed.
    up_to: CallClass | None = None
    # The workspace scripts the exact call runs, with their content when it was approved
    # (oversight/script_pins.py): a rewritten script asks again. None: not known (an allowance
    # restored from the record), so a call that runs a script asks again.
    pins: Pins | None = None


@dataclass(frozen=True)
class RunAllowance:
    """What people allowed for the rest of one run; each entry revocable by its approval."""

    entries: tuple[Allowed, ...] = ()

    def adding(
        self,
        scope: str,
        tool: str,
        digest: str,
        rule: dict[str, Any] | None,
        approval_id: int | None = None,
        up_to: str | None = None,
        pins: Pins | None = None,
    ) -> RunAllowance:
        """With one more: a scoped rule (only ever a capped allow rule), else the exact call up
        to the class it had when approved and with the scripts it runs as they were then
        (`pins`; an allowance stored before scopes, "tool", covers only the call it approved)."""
        made = None
        if scope in ("prefix", "file", "folder", "domain") and isinstance(rule, dict):
            try:
                made = Rule.model_validate(rule)
            except ValueError:  # (pydantic's ValidationError) a row no approve() wrote
                made = None
            if made is not None and (made.action != "allow" or made.up_to is None):
                made = None
        ceiling = CallClass(up_to) if up_to in tuple(CallClass) else None
        entry = Allowed(approval_id, tool, digest, made, ceiling, pins)
        return RunAllowance((*self.entries, entry))

    def revoking(self, approval_id: int) -> RunAllowance:
        return RunAllowance(tuple(e for e in self.entries if e.approval_id != approval_id))

    def has_exact(self, tool: str, args_hash: str) -> bool:
        """Whether an exact-call allowance names these arguments (before any file is read)."""
        return any(e.rule is None and (e.tool, e.digest) == (tool, args_hash) for e in self.entries)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(e.rule for e in self.entries if e.rule is not None)

    def covers_call(
        self, tool: str, args_hash: str, call_class: str | None = None, pins: Pins | None = ()
    ) -> bool:
        """Whether this exact call is allowed, as it is now: no riskier than when approved, and
        running the scripts it ran then, unchanged (`pins`: as script_pins.pins reads them now;
        None when it runs scripts that cannot be pinned)."""
        return any(
            e.rule is None
            and (e.tool, e.digest) == (tool, args_hash)
            and (e.up_to is None or _within(call_class, e.up_to))
            and pins is not None
            and (pins == () or e.pins == pins)
            for e in self.entries
        )


def _within(call_class: str | None, ceiling: CallClass) -> bool:
    return call_class is not None and CLASS_RANK[CallClass(call_class)] <= CLASS_RANK[ceiling]


def decide(
    policy: Policy,
    *,
    tool: str,
    risk: str,
    arguments: dict[str, Any],
    autonomy: str,
    args_hash: str = "",
    allowance: RunAllowance | None = None,
    kinds: ArgumentKinds | None = None,
    workspace: Workspace | None = None,
    known_hosts: Mapping[str, str] | None = None,
) -> PolicyDecision:
    """The verdict for one call; any failure inside the policy means deny (fail closed).

    `kinds` says which arguments are paths and shell commands (`Tool.argument_kinds`); for a
    tool that declares none, arguments named `path` and `paths` are read as paths (as text). With
    `workspace`, paths are resolved in it (symlinks followed, shell globs expanded); without,
    they are normalised as text. `known_hosts`: hosts the project names (a plain read from one
    is not egress; oversight/known_hosts.py).
    """
    try:
        kinds = kinds if kinds is not None and kinds != ArgumentKinds() else guess_kinds(arguments)
        targets = call_targets(arguments, kinds, workspace, tool)
        own = _own_file(tool, targets, workspace)
        if own is not None:
            return own
        classes = [
            _classify(tool, risk, arguments, part, workspace, known_hosts) for part in targets.parts
        ]
        held = _decide(policy, tool, risk, arguments, autonomy, kinds, targets, classes)
        if allowance is not None and held.verdict == "ask" and held.approve_role == "approver":
            allowed = _run_allowance(
                allowance, tool, arguments, args_hash, kinds, targets, classes, workspace
            )
            if allowed is not None:  # never a deny, nor what needs an admin (held says so)
                return replace(allowed, call_class=held.call_class, class_why=held.class_why)
        return held
    except Exception as exc:  # noqa: BLE001 - invariant 2: errors in the policy deny
        return PolicyDecision("deny", f"the policy could not decide ({exc}); denied to be safe")


def _classify(tool, risk, arguments, part: Part, workspace, known_hosts) -> Classified:
    """The part's class; a plain read (fetch_url) from a host the project names is a read."""
    found = classify_part(tool, risk, arguments, part, workspace)
    if found.call_class is CallClass.NETWORK and tool == "fetch_url" and known_hosts:
        host = url_host(arguments.get("url"))
        if host is not None and host in known_hosts:
            where = known_hosts[host]
            return Classified(CallClass.READ, f"reads a page of {host}, named in {where}")
    return found


def call_pins(targets: CallTargets, workspace: Workspace | None) -> Pins | None:
    """The workspace scripts a call runs, with their content now (oversight/script_pins.py)."""
    invocations = [part.invocation for part in targets.parts if part.invocation is not None]
    return pins(invocations, workspace)


def exact_call_pins(
    tool: Tool, arguments: dict[str, Any], workspace: Workspace | None
) -> Pins | None:
    """call_pins for a call as a person approves it (what an exact-call allowance keeps)."""
    kinds = tool.argument_kinds
    kinds = kinds if kinds != ArgumentKinds() else guess_kinds(arguments)
    return call_pins(call_targets(arguments, kinds, workspace, tool.name), workspace)


def decide_call(
    policy: Policy,
    tool: Tool,
    arguments: dict[str, Any],
    *,
    autonomy: str,
    workspace: Workspace | None = None,
) -> PolicyDecision:
    """The verdict for `tool` called with `arguments`, as the worker gives it, without what a
    person allowed for the run (an edited call, a call checked by hand)."""
    return decide(
        policy,
        tool=tool.name,
        risk=tool.risk,
        arguments=arguments,
        autonomy=autonomy,
        args_hash=args_hash(arguments),
        kinds=tool.argument_kinds,
        workspace=workspace,
    )


def _own_file(
    tool: str, targets: CallTargets, workspace: Workspace | None
) -> PolicyDecision | None:
    """A deny, before any rule or person, for a call that would touch one of onloop's own files
    (every spelling counts: its canonical path, where it really leads, its look-alikes)."""
    space = workspace if workspace is not None else Workspace(LEXICAL_ROOT)
    for part in targets.parts:
        if part.path is None:
            continue
        for name in part.path.every(True):
            if name.startswith("~"):
                continue
            what = space.protected.why(space.real_root / name)  # an absolute name stays itself
            if what is None or (tool in READING_TOOLS and what not in SECRET):
                continue
            if part.path.reached_by is not None and what not in SECRET:
                continue  # read because its folder is read whole (grep -r .): reading is allowed
            verb = "touch" if what in SECRET else "write, delete or replace"
            return PolicyDecision(
                "deny",
                f"{name} is {what}: one of onloop's own files, which the agent may not {verb}"
                + ("" if tool in READING_TOOLS or what in SECRET else " (read_file may read it)"),
                OWN_FILES_RULE,
            )
    return None


def _strongest(
    policy: Policy, tool, arguments, part: Part, kinds, part_class=None
) -> tuple[int, Rule] | None:
    """The matching rule with the strongest action; the first in file order among equals."""
    best: tuple[int, Rule] | None = None
    for index, rule in enumerate(policy.rules):
        if rule.matches(tool, arguments, part, kinds, part_class):
            if best is None or _STRENGTH[rule.action] > _STRENGTH[best[1].action]:
                best = (index, rule)
    return best


def _decide(
    policy, tool, risk, arguments, autonomy, kinds, targets: CallTargets, classes
) -> PolicyDecision:
    if targets.escape is not None:
        return PolicyDecision("deny", targets.escape, "the run's workspace")
    parts = targets.parts
    matched = [
        _strongest(policy, tool, arguments, part, kinds, found.call_class)
        for part, found in zip(parts, classes, strict=True)
    ]
    call = severest(classes)

    def tag(decision: PolicyDecision) -> PolicyDecision:
        named = str(call.call_class) if call.call_class is not None else None
        return replace(decision, call_class=named, class_why=call.why)

    for part, hit in zip(parts, matched, strict=True):
        if hit is not None and hit[1].action == "deny":
            return tag(_from_rule(*hit, part))
    role = _approve_role(matched)
    if targets.doubts:
        why = f"the command cannot be fully checked ({'; '.join(targets.doubts)})"
        return tag(PolicyDecision("ask", why, None, role))
    for part, hit in zip(parts, matched, strict=True):
        if hit is not None and hit[1].action == "ask":
            return tag(replace(_from_rule(*hit, part), approve_role=role))
    if all(hit is not None for hit in matched):
        return tag(_allowed([hit for hit in matched if hit is not None]))
    if autonomy not in ASKS_FOR:
        return PolicyDecision("deny", f"unknown autonomy level {autonomy!r}; denied to be safe")
    if risk not in tuple(Risk):
        return PolicyDecision("deny", f"tool {tool!r} has unknown risk {risk!r}; denied to be safe")
    unmatched = [found for found, hit in zip(classes, matched, strict=True) if hit is None]
    verdict, reason = _by_default(policy, risk, autonomy, unmatched)
    return tag(PolicyDecision(verdict, reason, default=True))


def _by_default(policy: Policy, risk, autonomy, parts: list[Classified]) -> tuple[Verdict, str]:
    """The strongest verdict among parts no rule matched: each by its class's verdict in the
    policy's `[classes]` table, or (unclassified, or no table) by the tool's risk; the reason
    names the part that decided, the riskiest among equals."""
    judged: list[tuple[Verdict, int, str]] = []
    for found in parts:
        verdict: Verdict
        if policy.classes is not None and found.call_class is not None:
            verdict = getattr(policy.classes[found.call_class], autonomy)
            rank = CLASS_RANK[found.call_class]
            judged.append((verdict, rank, f"{found.why} ({found.call_class})"))
        else:
            verdict = "ask" if risk in ASKS_FOR[autonomy] else "allow"
            judged.append((verdict, len(CLASS_RANK), f"{risk}-risk tool"))
    verdict, _, why = max(judged, key=lambda j: (_STRENGTH[j[0]], j[1]))
    return verdict, f"{why} in {autonomy} mode"


def _run_allowance(
    allowance: RunAllowance,
    tool,
    arguments,
    digest,
    kinds,
    targets: CallTargets,
    classes,
    workspace: Workspace | None,
) -> PolicyDecision | None:
    """An allow when what people allowed for the run covers this call: the exact call, or every
    part by a scoped rule of its class or a milder one (a command the policy cannot fully read
    is covered only as the exact call)."""
    if allowance.has_exact(tool, digest) and allowance.covers_call(
        tool, digest, severest(classes).call_class, call_pins(targets, workspace)
    ):
        return PolicyDecision("allow", "a person allowed this exact call for the rest of the run")
    if targets.doubts or targets.escape is not None or not allowance.rules:
        return None
    named: list[str] = []
    for part, found in zip(targets.parts, classes, strict=True):
        part_class = found.call_class
        rule = next(
            (r for r in allowance.rules if r.matches(tool, arguments, part, kinds, part_class)),
            None,
        )
        if rule is None:
            return None
        named.append(rule.name or "a scoped allowance")
    names = list(dict.fromkeys(named))
    return PolicyDecision("allow", "; ".join(names), names[0] if len(names) == 1 else None)


def _approve_role(matched: list[tuple[int, Rule] | None]) -> ApproveRole:
    """The largest role any matching ask rule names for approving the call."""
    roles = {hit[1].approve_role for hit in matched if hit is not None and hit[1].action == "ask"}
    return "admin" if "admin" in roles else "approver"


def _allowed(hits: list[tuple[int, Rule]]) -> PolicyDecision:
    """Every part allowed by a rule: one rule names the decision, several are listed."""
    unique = sorted(dict(hits).items())
    if len(unique) == 1:
        return _from_rule(*unique[0])
    labels = ", ".join(rule.label(index) for index, rule in unique)
    return PolicyDecision("allow", f"every part is allowed ({labels})", labels)


def _from_rule(index: int, rule: Rule, part: Part | None = None) -> PolicyDecision:
    reason = rule.reason or f"matched {rule.label(index)}"
    path = part.path if part is not None else None
    if path is not None and path.reached_by is not None:  # a folder read whole: name the file
        reason = f"{reason} ({path.reached_by}, {path.spellings[0]!r} among them)"
    return PolicyDecision(rule.action, reason, rule.label(index))
