"""Policy: the rules runs are checked against, the oversight settings, and a tester for one call."""

from __future__ import annotations

import json

import streamlit as st

from agent_core.oversight import inert
from agent_core.oversight.policy_check import (
    CallCheckError,
    check_call,
    class_line,
    describe_rule,
    rule_line,
)
from agent_core.oversight.policy_file import PolicyError, load_policy
from agent_core.tools import builtin_tools
from agent_core.tools.registry import ToolLoadError, known_tools
from dashboard.components.project_rules import render_project_rules
from dashboard.components.role_buttons import page_needs
from dashboard.store import get_store
from storage.vocabulary import Autonomy

st.title("Policy")
page_needs("admin")
try:
    policy = load_policy()
except PolicyError as error:
    policy_problem = str(error)  # the operator's own file, quoted by line (a path, a field)
    st.error(f"The policy file cannot be used, so nothing runs under it: {policy_problem}")
    st.stop()

st.caption(
    f"Active policy: {policy.source}. Runs launched here store this policy when a worker "
    "starts them. Edit onloop.toml (or `onloop policy init` to create it) and restart."
)
st.markdown(
    "Every tool call gets a verdict: **allow** (runs), **ask** (waits for a person) or **deny** "
    "(refused; the model is told why). Rules see what a call really touches: canonical paths "
    "inside the workspace and each program a shell command runs. A call is allowed only when "
    "every part of it is; when several rules match, deny wins over ask and ask over allow, "
    "whatever their order; a shell command that cannot be fully read is asked about. When no "
    "rule matches, what the call does decides: each part gets a class (read, build, write, "
    "network, install, guarded, destructive, escalation) and the class a verdict per autonomy "
    "level (the table below); a part that fits no class is decided by the tool's risk: "
    "*manual* asks for everything, *supervised* for medium and high risk, *autonomous* for high "
    "risk only."
)

st.header("Rules", anchor=False)
if policy.rules:
    st.dataframe(
        [
            {
                "#": i + 1,
                "name": rule.label(i),
                "tool": rule.tool,
                "matches": describe_rule(rule),
                "action": rule.action,
                "reason": rule.reason,
            }
            for i, rule in enumerate(policy.rules)
        ],
        hide_index=True,
        use_container_width=True,
        key="policy_rules",
    )
else:
    st.info("No rules: every verdict comes from the tool's risk and the run's autonomy.")

if policy.classes is not None:
    st.header("Classes", anchor=False)
    st.dataframe(
        [
            {"class": str(name), **verdicts.model_dump()}
            for name, verdicts in policy.classes.items()
        ],
        hide_index=True,
        key="policy_classes",
    )

m = policy.monitors
settings = {
    "approval timeout": f"{policy.approval_timeout_s:.0f} s (then rejected)"
    if policy.approval_timeout_s
    else "none (waits for a person)",
    "when a budget is spent": policy.on_budget,
    "webhook on waiting": "configured" if policy.webhook_url else "none",
    "same outcome / cycles / same error / same message / nothing new": (
        f"{m.repeat_same_call} / {m.alternating_window} / {m.repeat_same_error} / "
        f"{m.repeat_same_message} / {m.no_progress} (over the last {m.window} calls)"
    ),
    "polls": f"tools {', '.join(m.poll_tools + policy.polling_tools) or 'none'}; "
    f"{len(m.poll_commands)} command patterns; {m.poll_patience} polls still waiting",
    "progress judge (real models)": f"every {m.judge_every} steps, below {m.judge_threshold}"
    if m.judge_every
    else "off",
    "a tripped monitor": m.action,
}
st.header("Oversight settings", anchor=False)
st.table([{"setting": k, "value": v} for k, v in settings.items()])

render_project_rules(get_store())

st.header("Try a call", anchor=False)
try:  # every tool a run could use: built-ins, your modules, the policy's MCP servers
    tools = known_tools(policy.tools, policy.mcp_servers)
except ToolLoadError as error:
    st.warning(f"Only the built-in tools are listed: {inert.markdown(error, limit=800)}")
    tools = builtin_tools()
left, right = st.columns([1, 2])
with left:
    name = st.selectbox(
        "Tool",
        sorted(tools),
        key="policy_tool",
        format_func=lambda n: f"{n} ({tools[n].risk} risk)",
    )
    autonomy = st.radio(
        "Autonomy",
        [level.value for level in Autonomy],
        index=1,
        key="policy_autonomy",
        horizontal=True,
    )
with right:
    example = {k: v.get("default", "") for k, v in tools[name].parameters["properties"].items()}
    raw = st.text_area("Arguments (JSON)", value=json.dumps(example), key=f"policy_args_{name}")
if st.button("Check this call", key="policy_check", type="primary"):
    try:
        checked = check_call(policy, tool_name=name, arguments_json=raw, autonomy=autonomy)
    except CallCheckError as error:
        st.error(f"Fix the arguments first: {inert.markdown(error)}")
    else:
        result = checked.decision
        show = {"allow": st.success, "ask": st.warning, "deny": st.error}[result.verdict]
        show(f"Verdict: {result.verdict.upper()}")
        st.text(f"What it would do: {inert.visible(checked.description)}")
        st.text(f"Rule: {inert.visible(rule_line(result), newlines=False)}")
        st.text(f"Class: {class_line(result)}")
        st.text(f"Reason: {inert.visible(result.reason)}")
        st.caption(inert.markdown(checked.note, limit=800))
