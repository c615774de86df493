"""The one way the dashboard refreshes a part of a page by itself: `refreshing(seconds, key=...)`
instead of `st.fragment(run_every=seconds)`.

A fragment that meets a store in trouble (full, read-only, I/O errors, locked, unreachable,
deleted or replaced: dashboard.components.store_trouble) shows the banner in its place instead of
Streamlit's exception box, and returns normally: its timer keeps running, so the part comes back
by itself on the first refresh after the store does. Any other error is a bug and shows as one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import streamlit as st

import storage
from dashboard.components.store_trouble import store_trouble_banner
from dashboard.store import get_store

F = TypeVar("F", bound=Callable[..., Any])


def refreshing(run_every: float, *, key: str) -> Callable[[F], F]:
    """A fragment rerun every `run_every` seconds whose store trouble is a banner (keyed `key`)."""

    def wrap(body: F) -> F:
        @functools.wraps(body)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with store_trouble_banner(lambda: _store_of(args), key=key):
                return body(*args, **kwargs)
            return None  # the banner was shown instead

        return cast(F, st.fragment(run_every=run_every)(guarded))

    return wrap


def _store_of(args: tuple[Any, ...]) -> storage.Store:
    """The store the fragment was given, else the dashboard's own (only named in the banner)."""
    given = next((arg for arg in args if isinstance(arg, storage.Store)), None)
    return given if given is not None else get_store()
