"""The gate every page passes: sign-in, the role check, and the banner of an unguarded dashboard."""

from __future__ import annotations

import streamlit as st

from agent_core.oversight import inert
from agent_core.oversight.signin_roles import (
    WHAT_EACH_ROLE_ADDS,
    AccessConfigError,
    Person,
    is_loopback,
)
from dashboard.store import current_person, insecure, role_rules


def gate() -> Person:
    """Who may see the dashboard; stops the script with the right page for anyone else."""
    try:
        rules = role_rules()
    except AccessConfigError as error:
        st.error(
            f"Sign-in is misconfigured, so nothing is shown: {inert.markdown(error, limit=800)}"
        )
        st.stop()
    if rules is None:
        return _without_signin()
    if not st.user.is_logged_in:
        _signin_page()
    person = current_person()
    if person.refused is not None:
        _refused_page(person.refused)
    if person.role is None:
        _no_role_page(person)
    return person


def _without_signin() -> Person:
    address = st.get_option("server.address") or ""
    if insecure():
        st.error(
            "**No sign-in.** Anyone who can reach this address can watch, steer and approve "
            "every run. Configure sign-in (onloop up --auth-config) before sharing it.",
            icon=":material/lock_open:",
        )
    elif address and not is_loopback(address):
        st.error(
            f"This dashboard listens on {address} without sign-in, so it shows nothing. "
            "Start it with `onloop up --auth-config signin.toml`, or bind it to 127.0.0.1."
        )
        st.stop()
    return current_person()


def _signin_page() -> None:
    st.title("onloop")
    st.write("This control room needs you to sign in before it shows any run.")
    st.button(
        "Sign in", key="signin_login", type="primary", icon=":material/login:", on_click=st.login
    )
    st.stop()


def _refused_page(why: str) -> None:
    """Claims onloop does not trust (see access.parse_claims): no role, and why, as plain text."""
    st.title("Sign-in refused")
    st.text(inert.visible(f"onloop does not trust what your sign-in provider sent: {why}."))
    st.text("Nothing is shown. Ask the provider's admin to fix the claims, then sign in again.")
    st.button("Sign out", key="signin_logout", icon=":material/logout:", on_click=st.logout)
    st.stop()


def _no_role_page(person: Person) -> None:
    st.title("You have no role here yet")
    if person.unverified:
        st.warning(
            "Your sign-in provider says your e-mail address is not verified, so onloop does not "
            "use it to give you a role: verify it with the provider, then sign in again.",
            icon=":material/mark_email_unread:",
        )
    st.write(
        f"You are signed in as **{inert.person(person.name)}**, but onloop's configuration gives you no role, "
        "so it shows you nothing. Ask an onloop admin to give you one:"
    )
    st.markdown("\n".join(f"- **{role}**: {adds}" for role, adds in WHAT_EACH_ROLE_ADDS.items()))
    st.button("Sign out", key="signin_logout", icon=":material/logout:", on_click=st.logout)
    st.stop()


def whoami(person: Person) -> None:
    """The sidebar's line naming who is signed in, with their role and a way out."""
    if person.mode != "oidc":
        st.caption(f":material/person: {inert.person(person.name)} ({person.mode}, no sign-in)")
        return
    st.caption(f":material/person: {inert.person(person.name)} · {person.role}")
    st.button("Sign out", key="signin_logout", icon=":material/logout:", on_click=st.logout)
