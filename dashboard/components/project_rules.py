"""The Policy page's project rules: the rules people added for every run of this store (from an
approval, a suggestion, or here), each editable and revocable, with its history; the rules
past decisions suggest; and the export to paste into onloop.toml. The page is an admin's."""

from __future__ import annotations

import json

import streamlit as st

import storage
from agent_core.oversight import inert
from agent_core.oversight.policy import Rule
from agent_core.oversight.policy_check import describe_rule
from agent_core.oversight.project_rules import (
    ProjectRuleError,
    add_rule,
    edit_rule,
    export_toml,
)
from agent_core.oversight.suggestions import suggest
from dashboard.store import current_person
from storage.models import ProjectRule

_PROBLEM = "policy_project_problem"
_DONE = "policy_project_done"


def render_project_rules(store: storage.Store) -> None:
    st.header("Project rules", anchor=False)
    st.caption(
        "Rules for every run of this store, added from an approval (Approve + allow in this "
        "project), a suggestion below, or here. They follow the policy file's rules: a deny "
        "there still wins, and an allow rule never covers a call riskier than its `up_to` class."
    )
    _notices()
    rows = storage.active_project_rules(store)
    if not rows:
        st.info("No project rules yet.")
    for row in rows:
        _render_row(store, row)
    text = None
    try:
        text = export_toml(rows) if rows else None
    except ProjectRuleError as error:  # a value TOML cannot hold (a lone surrogate)
        st.error(f"No export: {inert.markdown(error)}")
    if text is not None:
        st.download_button(
            "Export as onloop.toml rules",
            data=text,
            file_name="project-rules.toml",
            mime="text/plain",
            key="policy_project_export",
            icon=":material/download:",
        )
    _render_suggestions(store)


def _notices() -> None:
    problem = st.session_state.pop(_PROBLEM, None)
    if problem:
        st.error(inert.markdown(problem, limit=600))
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(inert.markdown(done, limit=600))


def _render_row(store: storage.Store, row: ProjectRule) -> None:
    rule = Rule.model_validate(row.rule)
    ceiling = f" up to **{rule.up_to}**" if rule.up_to else ""
    origin = f", from approval {row.from_approval_id}" if row.from_approval_id else ""
    title = (
        f"{row.rule_key} v{row.version}: {rule.action}{ceiling} · "
        f"{inert.markdown(rule.tool)} {inert.markdown(describe_rule(rule))}"
    )
    with st.expander(title, key=f"policy_project_{row.rule_key}"):
        who = inert.markdown(row.created_by)
        st.caption(f"by {who}, {row.created_at:%Y-%m-%d %H:%M} UTC{origin}")
        st.text_area(
            "The rule as JSON (saved as a new version)",
            value=json.dumps(row.rule, indent=2),
            key=f"policy_project_edit_{row.rule_key}",
            height=150,
        )
        with st.container(horizontal=True):
            st.button(
                "Save as a new version",
                key=f"policy_project_save_{row.rule_key}",
                on_click=_save,
                kwargs={"store": store, "key": row.rule_key},
            )
            st.button(
                "Revoke",
                key=f"policy_project_revoke_{row.rule_key}",
                icon=":material/block:",
                on_click=_revoke,
                kwargs={"store": store, "key": row.rule_key},
            )
        history = storage.project_rule_history(store, key=row.rule_key)
        st.dataframe(
            [
                {
                    "version": h.version,
                    "status": h.status,
                    "by": inert.visible(h.created_by, newlines=False, tabs=False),
                    "when (UTC)": h.created_at,
                    "rule": json.dumps(h.rule),
                }
                for h in history
            ],
            hide_index=True,
            key=f"policy_project_history_{row.rule_key}",
        )


def _save(*, store: storage.Store, key: str) -> None:
    typed = st.session_state.get(f"policy_project_edit_{key}", "")
    try:
        data = json.loads(typed)
        row = edit_rule(store, key, data, by=current_person().name)
    except (ValueError, ProjectRuleError, storage.StoreError) as error:
        st.session_state[_PROBLEM] = f"Not saved: {error}. Fix the rule and save again."
        return
    st.session_state[_DONE] = f"Saved project rule {row.rule_key} as version {row.version}."


def _revoke(*, store: storage.Store, key: str) -> None:
    try:
        row = storage.revoke_project_rule(store, key=key, by=current_person().name)
    except storage.StoreError as error:
        st.session_state[_PROBLEM] = str(error)
        return
    st.session_state[_DONE] = (
        f"Revoked project rule {row.rule_key}: it decides nothing from now on."
    )


def _render_suggestions(store: storage.Store) -> None:
    st.header("Suggested rules", anchor=False)
    found = suggest(store)
    if not found:
        st.caption(
            "Nothing to suggest yet: a pattern approved at least 5 times in 2 runs, never "
            "edited or rejected, shows up here. A suggestion never allows a call someone refused."
        )
        return
    for number, suggestion in enumerate(found):
        with st.container(border=True, key=f"policy_suggestion_{number}"):
            st.markdown(inert.markdown(suggestion.label, limit=400))
            st.button(
                "Add as project rule",
                key=f"policy_suggestion_add_{number}",
                icon=":material/add:",
                on_click=_add,
                kwargs={"store": store, "rule": suggestion.rule_dict()},
            )


def _add(*, store: storage.Store, rule: dict) -> None:
    try:
        row = add_rule(store, rule, by=current_person().name)
    except ProjectRuleError as error:
        st.session_state[_PROBLEM] = f"Not added: {error}"
        return
    st.session_state[_DONE] = f"Added project rule {row.rule_key}."
