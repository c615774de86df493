"""The one store a dashboard process uses, and who is at the keyboard."""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.decisions import current_user as os_user


@st.cache_resource(show_spinner=False)
def _open_store(url: str) -> storage.Store:
    return storage.open_store(url)


def get_store() -> storage.Store:
    """The store at ONLOOP_DATABASE_URL (or ./onloop.db), opened once per process and URL."""
    return _open_store(storage.database_url())


def current_user() -> str:
    """The signed-in person's email or name when Streamlit auth is on, else the OS user."""
    user = st.user
    if user.get("is_logged_in"):
        for field in ("email", "name"):
            value = user.get(field)
            if isinstance(value, str) and value:
                return value
    return os_user()
