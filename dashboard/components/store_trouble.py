"""A banner, not a traceback, when the store is in trouble under the dashboard: its disk is full,
read-only or gives I/O errors (storage.store_faults), it is locked or unreachable for a while
(storage.transient), or the file was deleted or replaced (storage.identity). Anything else is a
bug and is raised as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

import storage
from agent_core.oversight import inert
from storage.identity import HELP, StoreChanged
from storage.store_faults import store_fault
from storage.transient import brief, is_transient

# A store in trouble is given directly, or as a function that finds it (only called on trouble).
StoreOrFinder = storage.Store | Callable[[], storage.Store] | None


def trouble_text(error: BaseException, store: StoreOrFinder) -> str | None:
    """What the banner says for `error`, or None when it is no trouble of the store."""
    if isinstance(error, StoreChanged):
        return changed_text(error)
    if is_transient(error):
        return (
            f"The store does not answer now ({brief(error)}): this "
            "part of the page shows nothing new and tries again by itself every few seconds. "
            "If it lasts, check that the database server is up and reachable (PostgreSQL), or "
            "that no other program holds a long write on the store's file (SQLite)."
        )
    fault = store_fault(error, _found(store))
    if fault is None:
        return None
    return (
        f"{fault.what[0].upper()}{fault.what[1:]} ({fault.detail}): {fault.fix}. What this page "
        "tried to save was not saved; the workers claim no run until the store takes writes "
        "again, then the runs it cut off end interrupted (resume them)."
    )


def changed_text(error: StoreChanged) -> str:
    """What the dashboard says of a store deleted or replaced under it (and what to do)."""
    where = error.where or "its place"
    if error.kind == "deleted":
        return (
            f"The store at {where} was deleted (moved away or removed) while this dashboard was "
            "open: this page reads and saves nothing until it is back. Move the same file back "
            "and the page recovers by itself; to work on a copy restored from a backup, or on "
            f"a new store there, restart the dashboard (onloop up). See {HELP}."
        )
    return (
        f"The store at {where} was {error.kind} while this dashboard was open: nothing done on "
        "this page is saved to the store there now (its runs are not the ones this page "
        "showed, even where their ids match), and nothing of it is shown. Restart the "
        f"dashboard (onloop up) to work on the store that is there now. See {HELP}."
    )


def _found(store: StoreOrFinder) -> storage.Store | None:
    if store is None or isinstance(store, storage.Store):
        return store
    try:
        return store()
    except Exception:  # the banner still names the fault, without the store's folder
        return None


@contextmanager
def store_trouble_banner(store: StoreOrFinder, *, key: str) -> Iterator[None]:
    """Run a page (or a fragment) and show trouble of the store as a banner."""
    try:
        yield
    except Exception as error:
        shown = trouble_text(error, store)
        if shown is None:
            raise
        with st.container(key=f"store-trouble-{key}"):
            st.error(inert.markdown(shown, limit=2000), icon=":material/hard_drive:")
