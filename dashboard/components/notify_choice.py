"""Launch's Notifications box: for one run, which of the policy's channels tell people, and
about what. The run records the narrowed `[notify]` table in its policy."""

from __future__ import annotations

from typing import Any

import streamlit as st

from agent_core.oversight.notify_settings import EVENTS
from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_file import PolicyError, load_policy

EVENT_WORDS = {
    "approval_requested": "a decision is needed",
    "run_finished": "it finishes",
    "run_halted": "it is halted",
    "run_paused": "it pauses by itself",
}


def notify_choice() -> dict[str, list[str]] | None:
    """The person's choice, or None when the policy sets up no channel (nothing to choose)."""
    try:
        settings = load_policy().notifications()
    except PolicyError:
        return None  # the launch says what is wrong with the policy
    channels = settings.configured()
    if not channels:
        return None
    with st.expander("Notifications", key="launch_notify", icon=":material/notifications:"):
        chosen = st.multiselect(
            "Tell people on",
            channels,
            default=channels,
            key="launch_notify_channels",
            help="The channels of the policy's [notify] table; leave one out for this run.",
        )
        events: list[str] = st.multiselect(
            "When",
            list(EVENTS),
            default=[e for e in settings.events if e in EVENTS],
            format_func=lambda event: EVENT_WORDS[event],
            key="launch_notify_events",
        )
    return {"channels": chosen, "events": events}


def with_notify_choice(policy: Policy, choice: dict[str, list[str]] | None) -> dict[str, Any]:
    """The policy to record for the run, as JSON, with its `[notify]` table narrowed."""
    if choice is not None:
        narrowed = policy.notifications().narrowed(choice["channels"], choice["events"])
        policy = policy.model_copy(update={"notify": narrowed, "webhook_url": None})
    return policy.model_dump(mode="json")
