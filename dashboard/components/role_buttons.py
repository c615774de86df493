"""What the person at the keyboard may press: buttons they lack the role for are disabled.

Disabling is only a courtesy: agent_core.oversight.decisions and agent_core.oversight.control refuse the write itself.
"""

from __future__ import annotations

import streamlit as st

from agent_core.oversight.signin_roles import Role
from dashboard.store import current_person


def lacks(role: Role) -> bool:
    """True when the person at the keyboard has a smaller role than `role`."""
    return not current_person().may(role)


def needs_note(role: Role) -> str:
    return f"This needs the {role} role; ask an onloop admin."


def explain_missing(role: Role, what: str) -> None:
    """One line saying why the buttons below are disabled, shown only to those who lack `role`."""
    if lacks(role):
        st.caption(
            f":material/lock: You can watch; {what} needs the {role} role. Ask an onloop admin."
        )


def page_needs(role: Role) -> None:
    """Stop a page for anyone below `role`, saying which role it needs. The menu leaves such a
    page out; a typed or shared address still reaches it, and gets this instead of "Page not
    found"."""
    if lacks(role):
        st.error(
            f"This page needs the {role} role; you have the {current_person().role or 'no'} "
            "role. Ask an onloop admin.",
            icon=":material/lock:",
        )
        st.stop()
