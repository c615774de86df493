"""An edited call is a new call: checked against the tool, decided by the policy, compared.

A person who approves with other arguments than the agent asked for is writing a call of their
own. It goes through what the agent's calls go through (schema, canonical targets, the policy),
both when it is decided (to tell the person) and in the worker before it runs (a decision row can
be written by any client). What it may not do:
- anything the policy denies;
- need more to approve than the approver holds: an ask rule's `approve_role`, and `admin` for an
  edit the policy flags more strongly than the call the agent asked for (the approver would be
  both author and approver of that riskier call);
- add arguments the tool does not declare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent_core.oversight.policy import ApproveRole, Policy, PolicyDecision, decide_call
from agent_core.tools import Tool, ToolError, Workspace

_SHOWN = 80  # characters of one value in a change line


class EditRefused(Exception):
    """Edited arguments that do not fit the tool; the message names the fix."""


@dataclass(frozen=True)
class EditReview:
    arguments: dict[str, Any]  # the edited arguments, validated (defaults filled)
    decision: PolicyDecision  # the policy's verdict for the edited call
    original: PolicyDecision  # and for the call the agent asked for, decided the same way
    changes: tuple[str, ...]  # one line per changed argument: `name: old → new`

    @property
    def escalates(self) -> bool:
        """Whether the policy flags the edited call more strongly than the agent's call."""
        return concern(self.decision) > concern(self.original)

    @property
    def role(self) -> ApproveRole:
        """The role approving the edited call needs."""
        if self.decision.verdict == "ask" and self.decision.approve_role == "admin":
            return "admin"
        return "admin" if self.escalates else "approver"

    @property
    def refusal(self) -> str | None:
        """Why the edited call may not run at all, or None."""
        if self.decision.verdict != "deny":
            return None
        return _printable(
            f"the policy denies the edited call ({self.decision.rule or 'default'}: "
            f"{self.decision.reason})"
        )

    def why_role(self) -> str:
        """Why the edited call needs `role`, in words for the person."""
        if self.decision.verdict == "ask" and self.decision.approve_role == "admin":
            why = f"the policy asks about it under {self.decision.rule}, which an admin approves"
        else:
            why = (
                f"the policy flags it more strongly than the call the agent asked for "
                f"({verdict_text(self.decision)} instead of {verdict_text(self.original)})"
            )
        return _printable(why)

    @property
    def verdict_line(self) -> str:
        """The policy's verdict for the edited call, and the rule or reason, in one line."""
        return _printable(verdict_text(self.decision))

    def summary(self) -> str:
        changed = "; ".join(self.changes) or "no change"
        return f"{changed}; the policy for the edited call: {self.verdict_line}"

    def as_event(self) -> dict[str, Any]:
        """What the approval_decided event records about the edit."""
        return {
            "changes": list(self.changes),
            "verdict": self.decision.verdict,
            "rule": self.decision.rule,
            "reason": self.decision.reason,
            "approve_role": self.role,
            "escalates": self.escalates,
            "original_verdict": self.original.verdict,
        }


def verdict_text(decision: PolicyDecision) -> str:
    where = f"rule {decision.rule}" if decision.rule else decision.reason
    return f"{decision.verdict} ({where})"


def concern(decision: PolicyDecision) -> int:
    """How strongly the policy flags a call: allowed, asked by the tool's risk, asked by a rule
    or an unreadable command, denied."""
    if decision.verdict == "allow":
        return 0
    if decision.verdict == "deny":
        return 3
    return 1 if decision.default else 2


def review_edit(
    policy: Policy,
    tool: Tool,
    original: dict[str, Any],
    edited: dict[str, Any],
    *,
    autonomy: str,
    workspace: Workspace | None,
) -> EditReview:
    """The edited call checked and decided; EditRefused when it does not fit the tool."""
    if not isinstance(edited, dict):
        raise EditRefused('the edited arguments must be a JSON object, like {"path": "a.txt"}')
    declared = tool.parameters.get("properties")
    if isinstance(declared, dict):
        extra = sorted(set(edited) - set(declared) - set(original))
        if extra:
            raise EditRefused(
                f"the edited arguments do not fit {tool.name}: it does not declare "
                f"{', '.join(map(repr, extra))}; remove them"
            )
    try:
        arguments = tool.validate(edited)
    except ToolError as exc:
        raise EditRefused(f"the edited arguments do not fit {tool.name}: {exc}") from exc
    return EditReview(
        arguments=arguments,
        decision=_decide(policy, tool, arguments, autonomy, workspace),
        original=_decide(policy, tool, original, autonomy, workspace),
        changes=argument_changes(original, arguments),
    )


def _decide(
    policy: Policy, tool: Tool, arguments: dict, autonomy: str, workspace: Workspace | None
) -> PolicyDecision:
    """The verdict as the worker gives it to a call, without what a person allowed for the run."""
    return decide_call(policy, tool, arguments, autonomy=autonomy, workspace=workspace)


def argument_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """`name: old → new` per argument that differs (`(none)` for one added or removed)."""
    lines = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, _NONE), new.get(name, _NONE)
        if before != after:
            lines.append(f"{_shown(name)}: {_value(before)} → {_value(after)}")
    return tuple(lines)


_NONE = object()


def _value(value: Any) -> str:
    return "(none)" if value is _NONE else _shown(json.dumps(value, ensure_ascii=True))


def _printable(text: str) -> str:
    """Text with control characters (escapes, OSC, bidi) shown as codes, never taking effect."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _shown(text: str) -> str:
    """ASCII only (controls and escapes appear as \\u codes), at most _SHOWN characters."""
    text = json.dumps(text, ensure_ascii=True)[1:-1] if not text.isprintable() else text
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
