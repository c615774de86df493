"""Suggested project rules, from the decisions people made: what they approve every time.

Each approved, unedited call is grouped under the widest scope it offers (a command prefix,
files, a folder, a domain: oversight/scopes.py), capped at its class. A group becomes a
suggestion when it was approved at least `min_approvals` times in at least `min_runs` runs, never
edited, and when the rule it would become covers no call a person rejected, edited, or let
expire (each checked with the real decision path): a suggestion never allows what someone
refused. Its `saved_asks` is how many asks on record it would have spared.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import storage
from agent_core.oversight.policy import Policy, Rule, decide
from agent_core.oversight.scopes import offered_scopes
from agent_core.tools.builtins import builtin_tools
from agent_core.tools.decorator import ArgumentKinds
from storage.decided_calls import DecidedCall

RECENT = 5_000  # decided approvals looked at, newest first
REFUSED = ("rejected", "expired")


@dataclass(frozen=True)
class Suggestion:
    rule: Rule
    label: str  # "approved 14 of 14 times in 9 runs, never edited or rejected: allow ..."
    approved: int
    runs: int
    saved_asks: int
    approval_ids: tuple[int, ...] = field(default=())

    def rule_dict(self) -> dict[str, Any]:
        return self.rule.model_dump(mode="json", exclude_defaults=True)


def suggest(store: storage.Store, *, min_approvals: int = 5, min_runs: int = 2) -> list[Suggestion]:
    """The rules worth adding, most asks saved first; none that would allow a refused call.

    Agents ask about the same calls again and again: each distinct call (tool, risk, arguments)
    is worked out once, and each refused call is checked once however often it was refused.
    """
    decided = storage.decided_calls(store, limit=RECENT)
    kinds = {name: tool.argument_kinds for name, tool in builtin_tools().items()}
    groups: dict[str, list[DecidedCall]] = defaultdict(list)
    rules: dict[str, tuple[Rule, str]] = {}
    widest_of: dict[tuple[str, str, str], tuple[str, Rule, str] | None] = {}
    for approval in decided:
        if approval.status != "approved" or _edited(approval):
            continue
        same = (approval.tool, approval.risk, approval.call)
        if same not in widest_of:
            widest_of[same] = _keyed(_widest(approval, kinds.get(approval.tool)))
        widest = widest_of[same]
        if widest is None:
            continue
        key, rule, label = widest
        groups[key].append(approval)
        rules[key] = (rule, label)
    refused = _distinct(a for a in decided if a.status in REFUSED or _edited(a))
    active = _already(store)
    found = []
    for key, approvals in groups.items():
        runs = {a.run_id for a in approvals}
        rule, label = rules[key]
        if len(approvals) < min_approvals or len(runs) < min_runs or key in active:
            continue
        if any(_covers(rule, a, kinds.get(a.tool)) for a in refused):
            continue
        found.append(
            Suggestion(
                rule=rule,
                label=(
                    f"approved {len(approvals)} of {len(approvals)} times in {len(runs)} runs, "
                    f"never edited or rejected: allow {label} in this project?"
                ),
                approved=len(approvals),
                runs=len(runs),
                saved_asks=len(approvals),
                approval_ids=tuple(sorted(a.id for a in approvals if a.id is not None)),
            )
        )
    return sorted(found, key=lambda s: (-s.saved_asks, s.label))


def _keyed(widest: tuple[Rule, str] | None) -> tuple[str, Rule, str] | None:
    if widest is None:
        return None
    rule, label = widest
    return _key(rule.model_dump(mode="json", exclude_defaults=True)), rule, label


def _distinct(calls: Iterable[DecidedCall]) -> list[DecidedCall]:
    """One of each call as asked and as edited: whether a rule covers it depends on no more."""
    return list({(c.tool, c.risk, c.call, c.edited): c for c in calls}.values())


def _edited(approval: DecidedCall) -> bool:
    return approval.edited_arguments is not None


def _widest(approval: DecidedCall, kinds: ArgumentKinds | None) -> tuple[Rule, str] | None:
    """The widest scope the call offered (never the exact call), as its rule and label."""
    scopes = offered_scopes(approval.tool, approval.risk, approval.arguments, kinds)
    widest = scopes[-1]
    if widest.rule is None:
        return None
    rule = widest.rule.model_copy(
        update={
            "name": f"suggested: {widest.label} (up to {widest.rule.up_to})",
            "reason": f"approved every time it was asked: {widest.label}",
        }
    )
    return rule, widest.label


def _covers(rule: Rule, approval: DecidedCall, kinds: ArgumentKinds | None) -> bool:
    """Whether `rule` alone would have allowed this call (with the arguments first asked, and
    with the ones a person edited it into)."""
    calls = [approval.arguments]
    if isinstance(approval.edited_arguments, dict):
        calls.append(approval.edited_arguments)
    policy = Policy(rules=[rule], classes=None)
    for arguments in calls:
        decision = decide(
            policy,
            tool=approval.tool,
            risk=approval.risk,
            arguments=arguments,
            autonomy="manual",  # everything asks unless the rule allows it
            kinds=kinds,
        )
        if decision.verdict == "allow":
            return True
    return False


def _already(store: storage.Store) -> set[str]:
    """The rules already in the project, in the form groups are keyed by."""
    return {_key(row.rule) for row in storage.active_project_rules(store)}


def _key(rule: dict[str, Any]) -> str:
    """What a rule matches and allows, without its name and reason."""
    return json.dumps(
        {k: v for k, v in rule.items() if k not in ("name", "reason")}, sort_keys=True
    )
