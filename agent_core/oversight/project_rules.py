"""Project rules: rules people add to every run of this store, from a decision or by hand.

They join the policy file's rules (after them) wherever a call is decided: the worker, the
edit review, `onloop policy check --db`. An allow rule must carry `up_to` (a class ceiling), so
a rule made from one approval never covers a riskier call; ask and deny rules are stricter than
the policy and need none. The strongest matching action still wins, so a project allow rule
never lifts a deny of the policy file, and never an ask that needs an admin.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import ValidationError

import storage
from agent_core.oversight import inert
from agent_core.oversight.policy import Policy, Rule
from storage.models import ProjectRule


class ProjectRuleError(ValueError):
    """A project rule that cannot be added as given; the message names the fix."""


def checked_rule(data: dict[str, Any]) -> Rule:
    """`data` as a policy rule that may be a project rule."""
    if not isinstance(data, dict):
        raise ProjectRuleError('a rule is a table such as {"tool": "run_shell", ...}')
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the rule"
        raise ProjectRuleError(f"{where}: {first['msg']}") from exc
    if rule.action == "allow" and rule.up_to is None:
        raise ProjectRuleError(
            "a project allow rule needs up_to (the riskiest class it may allow, e.g. "
            '"write"), so it never covers a riskier call'
        )
    return rule


def checked_rule_dict(data: dict[str, Any]) -> dict[str, Any]:
    """`data` checked (checked_rule) and stored as the rule's set fields."""
    return checked_rule(data).model_dump(mode="json", exclude_defaults=True)


def labelled(row: ProjectRule) -> Rule:
    """The stored rule, named for verdicts and the audit: which rule, which version, whose."""
    rule = Rule.model_validate(row.rule)
    origin = f"from approval {row.from_approval_id}, " if row.from_approval_id else ""
    name = f"project rule {row.rule_key} v{row.version} ({origin}by {row.created_by})"
    if rule.name:
        name = f"{rule.name} [{name}]"
    return rule.model_copy(update={"name": name})


def with_project_rules(policy: Policy, rows: list[ProjectRule]) -> Policy:
    """The policy with the project's rules after its own."""
    if not rows:
        return policy
    extra = []
    for row in rows:
        try:
            extra.append(labelled(row))
        except ValidationError:
            continue  # a row no release of onloop could have written: never a rule
    return policy.model_copy(update={"rules": [*policy.rules, *extra]})


class ProjectRules:
    """The store's active project rules, read again only when one was added, edited or revoked
    (one indexed read of the newest row's id per decision)."""

    def __init__(self, store: storage.Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._mark = -1
        self._rows: list[ProjectRule] = []

    def current(self) -> list[ProjectRule]:
        mark = storage.project_rules_mark(self.store)
        with self._lock:
            if mark != self._mark:
                self._rows = storage.active_project_rules(self.store)
                self._mark = mark
            return list(self._rows)

    def applied_to(self, policy: Policy) -> Policy:
        return with_project_rules(policy, self.current())


def add_rule(
    store: storage.Store,
    rule: dict[str, Any],
    *,
    by: str,
    from_approval_id: int | None = None,
    note: str | None = None,
) -> ProjectRule:
    data = checked_rule(rule).model_dump(mode="json", exclude_defaults=True)
    return storage.add_project_rule(
        store, rule=data, by=by, from_approval_id=from_approval_id, note=note
    )


def edit_rule(
    store: storage.Store, key: str, rule: dict[str, Any], *, by: str, note: str | None = None
) -> ProjectRule:
    data = checked_rule(rule).model_dump(mode="json", exclude_defaults=True)
    return storage.edit_project_rule(store, key=key, rule=data, by=by, note=note)


def export_toml(rows: list[ProjectRule]) -> str:
    """The active project rules as `[[rules]]` entries to paste into onloop.toml."""
    if not rows:
        return "# no project rules\n"
    blocks = ["# exported from onloop's project rules"]
    for row in rows:
        origin = f", from approval {row.from_approval_id}" if row.from_approval_id else ""
        # One comment line: a newline in the name would end it and add TOML of its own.
        by = inert.visible(row.created_by, newlines=False, tabs=False)
        lines = [f"# project rule {row.rule_key} v{row.version}, by {by}{origin}"]
        lines.append("[[rules]]")
        data = Rule.model_validate(row.rule).model_dump(mode="json", exclude_defaults=True)
        lines += [f"{key} = {_toml(value)}" for key, value in data.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _toml(value: Any) -> str:
    """A rule's value in TOML: strings (JSON's escapes are TOML's), lists, inline tables."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise ProjectRuleError(f"a rule value of type {type(value).__name__} cannot be exported")
