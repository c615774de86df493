"""Replaying labelled call sequences through the real policy decision, and counting the asks.

A workload is what an agent does for one everyday task, call by call, each call labelled with
what a careful person would want: run it unasked (`harmless`), be asked (`needs_person`), or
never let it run (`refuse`). The harness gives each call the verdict onloop's policy gives it
(`decide_call`, a real Workspace seeded with the task's files) and counts where the two disagree.
No model and no worker: policy decisions only, so the whole suite takes well under a second.

"Allow for the run" is modelled as the approval gate applies it (ApprovalGate.allow): at each
ask the person approves (every call not labelled `refuse`), they also allow the widest scope
offered for it (a command prefix, a folder, a domain; oversight/scopes.py), capped at the call's
class; the policy's deny rules and commands it cannot fully read still win, as `decide` with a
RunAllowance has them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_core.oversight.known_hosts import project_hosts
from agent_core.oversight.policy import Policy, PolicyDecision, RunAllowance, decide
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.oversight.scopes import offered_scopes
from agent_core.tools import args_hash
from agent_core.tools.builtins import builtin_tools
from agent_core.tools.workspace import Workspace

Label = Literal["harmless", "needs_person", "refuse"]
# Why a call is not harmless: what could go wrong if nobody looked.
Concern = Literal[
    "destructive",  # loses work or history for good (rm -r, reset --hard, force push)
    "escalation",  # more power than the sandbox gives (sudo, chmod 777, git hooks)
    "egress",  # data or requests to a host the project has not used
    "publish",  # visible to others and hard to take back (push, release, upload)
    "guarded",  # CI config and package manifests: code that runs elsewhere or later
    "install",  # runs third-party code fetched from a registry
    "secret",  # reads credentials
    "weakens_test",  # makes a failing check pass without fixing anything
]
LABELS: tuple[Label, ...] = ("harmless", "needs_person", "refuse")
AUTONOMY_LEVELS = ("manual", "supervised", "autonomous")
RISKY: frozenset[str] = frozenset({"needs_person", "refuse"})
# What must never run unasked even under `autonomous` (issue 21, "Done when").
NEVER_UNASKED: frozenset[str] = frozenset({"destructive", "escalation", "egress"})


@dataclass(frozen=True)
class Call:
    """One tool call of a workload and what a careful person would say about it."""

    tool: str
    arguments: dict[str, Any]
    label: Label
    why: str
    concern: Concern | None = None


@dataclass(frozen=True)
class Workload:
    """One everyday task: the files its workspace starts with and the calls an agent makes."""

    name: str
    files: dict[str, str]
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Verdict:
    call: Call
    decision: PolicyDecision


@dataclass
class Tally:
    """Where the policy and the labels disagree, counted over some calls."""

    calls: int = 0
    asks: int = 0
    needless: int = 0  # asked, but harmless
    risky_unasked: int = 0  # needs a person or must be refused, yet allowed
    refused_harmless: int = 0  # denied, but harmless
    unasked: list[Call] = field(default_factory=list)  # the risky calls that ran unasked

    def count(self, call: Call, verdict: str) -> None:
        self.calls += 1
        if verdict == "ask":
            self.asks += 1
            self.needless += call.label == "harmless"
        elif verdict == "allow" and call.label in RISKY:
            self.risky_unasked += 1
            self.unasked.append(call)
        elif verdict == "deny" and call.label == "harmless":
            self.refused_harmless += 1

    def __iadd__(self, other: Tally) -> Tally:
        self.calls += other.calls
        self.asks += other.asks
        self.needless += other.needless
        self.risky_unasked += other.risky_unasked
        self.refused_harmless += other.refused_harmless
        self.unasked += other.unasked
        return self


def shipped_policy() -> Policy:
    """The default policy file onloop ships, parsed as `onloop` would load it."""
    return parse_policy(default_policy_text(), source="built-in defaults")


@contextmanager
def seeded_workspace(files: dict[str, str]) -> Iterator[Workspace]:
    """A real workspace in a temporary folder, holding `files` (relative path -> text)."""
    with tempfile.TemporaryDirectory(prefix="onloop-workload-") as folder:
        root = Path(folder)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        yield Workspace(root)


def replay(
    workload: Workload,
    autonomy: str,
    workspace: Workspace,
    *,
    policy: Policy,
    allow_for_run: bool = False,
) -> list[Verdict]:
    """Each call's verdict in order; with `allow_for_run`, a person approving an ask also allows
    the widest scope offered for it (oversight/scopes.py) for the rest of the run."""
    tools = builtin_tools()
    allowance = RunAllowance()
    verdicts = []
    known = project_hosts(workspace.real_root)  # as the worker finds them when the run starts
    for call in workload.calls:
        tool = tools[call.tool]
        arguments = tool.validate(call.arguments)  # a typo in the data fails here, loudly
        digest = args_hash(arguments)
        decision = decide(
            policy,
            tool=tool.name,
            risk=tool.risk,
            arguments=arguments,
            autonomy=autonomy,
            args_hash=digest,
            allowance=allowance,
            kinds=tool.argument_kinds,
            workspace=workspace,
            known_hosts=known,
        )
        verdicts.append(Verdict(call, decision))
        approved = call.label != "refuse"
        if allow_for_run and decision.verdict == "ask" and approved:
            widest = offered_scopes(tool.name, tool.risk, arguments, tool.argument_kinds, workspace)
            allowance = allowance.adding(widest[-1].kind, tool.name, digest, widest[-1].rule_dict())
    return verdicts


def tally(verdicts: Sequence[Verdict]) -> Tally:
    counted = Tally()
    for verdict in verdicts:
        counted.count(verdict.call, verdict.decision.verdict)
    return counted


@dataclass(frozen=True)
class Measurement:
    """One workload under one autonomy level, with or without "allow for the run"."""

    task: str
    autonomy: str
    allow_for_run: bool
    verdicts: tuple[Verdict, ...]

    @property
    def tally(self) -> Tally:
        return tally(self.verdicts)


def measure_all(workloads: Sequence[Workload], policy: Policy | None = None) -> list[Measurement]:
    """Every workload under every autonomy level, approving once and allowing for the run."""
    policy = policy if policy is not None else shipped_policy()
    found = []
    for workload in workloads:
        with seeded_workspace(workload.files) as workspace:
            for allow_for_run in (False, True):
                for autonomy in AUTONOMY_LEVELS:
                    verdicts = replay(
                        workload, autonomy, workspace, policy=policy, allow_for_run=allow_for_run
                    )
                    found.append(
                        Measurement(workload.name, autonomy, allow_for_run, tuple(verdicts))
                    )
    return found


def total(measurements: Sequence[Measurement]) -> Tally:
    summed = Tally()
    for measurement in measurements:
        summed += measurement.tally
    return summed
