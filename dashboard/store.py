"""The one store a dashboard process uses, and who is at the keyboard."""

from __future__ import annotations

import os
from functools import lru_cache

import streamlit as st

import storage
from agent_core.oversight.decisions import current_user as os_user
from agent_core.oversight.signin_roles import (
    ClaimsRefused,
    Person,
    RoleRules,
    display_name,
    load_auth_config,
)
from dashboard.components.same_store import keep_to_the_opened_store

AUTH_ENV = "ONLOOP_AUTH"  # the sign-in file `onloop up --auth-config` hands the dashboard
INSECURE_ENV = "ONLOOP_INSECURE_NO_AUTH"  # `onloop up --insecure-no-auth` on a public address


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> storage.Store:
    store = storage.open_store(url)
    keep_to_the_opened_store(store)  # a deleted or replaced store: refused, not read or written
    return store


def get_store() -> storage.Store:
    """The store at ONLOOP_DATABASE_URL (or ./onloop.db), opened once per process and URL."""
    return _open_store(storage.database_url())


@lru_cache(maxsize=4)
def _role_rules(path: str) -> RoleRules:
    return load_auth_config(path)


def role_rules() -> RoleRules | None:
    """The `[roles]` of the sign-in file, or None when this dashboard has no sign-in."""
    path = os.environ.get(AUTH_ENV)
    return _role_rules(path) if path else None


def insecure() -> bool:
    return os.environ.get(INSECURE_ENV) == "1"


def current_person() -> Person:
    """Who is at the keyboard: the signed-in person with their role, else the local OS user.

    With sign-in configured, a person who has not signed in is a Person with no role: every
    write refuses them (the app shows them only the sign-in page anyway).
    """
    rules = role_rules()
    if rules is None:
        return Person(name=os_user(), role="admin", mode="insecure" if insecure() else "local")
    user = st.user
    if not user.get("is_logged_in"):
        return Person(name="(not signed in)", role=None, mode="oidc", subject=None)
    claims = user.to_dict()
    try:
        identity = rules.identity(claims)
    except ClaimsRefused as refused:  # no role at all: the page says why
        name = display_name(claims, None)
        return Person(name=name, role=None, mode="oidc", subject=None, refused=str(refused))
    return Person(
        name=display_name(claims, identity),
        role=rules.role_of(identity),
        mode="oidc",
        subject=identity.subject,
        unverified=identity.unverified,
    )


def current_user() -> str:
    """What the audit calls the person at the keyboard (see Person.label)."""
    return current_person().label
