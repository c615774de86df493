"""Try one call against a policy without running it: for `onloop policy check` and the Policy page."""

from __future__ import annotations

from dataclasses import dataclass

from agent_core.oversight.decisions import DecisionError, parse_edited_arguments
from agent_core.oversight.policy import ASKS_FOR, Policy, PolicyDecision, Rule, decide_call
from agent_core.oversight.targets import LEXICAL_NOTE
from agent_core.tools import Tool, ToolError
from agent_core.tools.registry import ToolLoadError, known_tools


class CallCheckError(Exception):
    """The call to check is malformed; the message names the fix."""


@dataclass(frozen=True)
class CallCheck:
    tool: Tool
    arguments: dict
    decision: PolicyDecision
    # Without a run there is no workspace: paths are checked as text (said on every surface).
    note: str = LEXICAL_NOTE

    @property
    def description(self) -> str:
        return self.tool.describe(self.arguments)


def describe_rule(rule: Rule, limit: int = 6) -> str:
    """What a rule matches, in one line: its argument, path and command patterns."""
    parts = [f"{k} ~ {v}" for k, v in rule.args.items()]
    for label, patterns in (("paths", rule.paths), ("commands", rule.commands)):
        if patterns:
            shown = ", ".join(patterns[:limit])
            more = f" and {len(patterns) - limit} more" if len(patterns) > limit else ""
            parts.append(f"{label} ~ {shown}{more}")
    return "; ".join(parts) or "any"


def rule_line(decision: PolicyDecision) -> str:
    """The rule that decided; when none did, what did: the call's class or risk and the autonomy
    level, or something the reason names (the policy failing, which always denies)."""
    if decision.rule:
        return decision.rule
    if decision.default:
        return "no rule matched (class or risk, and autonomy decide)"
    return "none (see the reason)"


def class_line(decision: PolicyDecision) -> str:
    """The call's class and why, as one line of plain text (inert: the why quotes the call)."""
    from agent_core.oversight import inert

    if decision.call_class is None:
        return "unclassified (the tool's risk decides)"
    why = inert.visible(decision.class_why, newlines=False)
    return f"{decision.call_class}: {why}"


def check_call(policy: Policy, *, tool_name: str, arguments_json: str, autonomy: str) -> CallCheck:
    try:
        tools = known_tools(policy.tools, policy.mcp_servers)
    except ToolLoadError as exc:
        raise CallCheckError(str(exc)) from exc
    tool = tools.get(tool_name)
    if tool is None:
        raise CallCheckError(f"unknown tool {tool_name!r}; available: {', '.join(sorted(tools))}")
    if autonomy not in ASKS_FOR:
        raise CallCheckError(
            f"unknown autonomy {autonomy!r}; choose manual, supervised or autonomous"
        )
    try:
        arguments = tool.validate(parse_edited_arguments(arguments_json))
    except (DecisionError, ToolError) as exc:
        raise CallCheckError(str(exc).replace("the edited arguments", "the arguments")) from exc
    decision = decide_call(policy, tool, arguments, autonomy=autonomy)
    return CallCheck(tool, arguments, decision)
