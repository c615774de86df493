"""A banner, not a traceback, when the store's disk fails under the dashboard: full, read-only,
I/O errors (storage.store_faults). Anything else is a bug and is raised as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

import storage
from agent_core.oversight import inert
from storage.store_faults import store_fault


def trouble_text(error: BaseException, store: storage.Store) -> str | None:
    """What the banner says for `error`, or None when it is no disk fault of the store."""
    fault = store_fault(error, store)
    if fault is None:
        return None
    return (
        f"{fault.what[0].upper()}{fault.what[1:]} ({fault.detail}): {fault.fix}. What this page "
        "tried to save was not saved; the workers claim no run until the store takes writes "
        "again, then the runs it cut off end interrupted (resume them)."
    )


@contextmanager
def store_trouble_banner(store: storage.Store, *, key: str) -> Iterator[None]:
    """Run a page (or a fragment) and show a disk fault of the store as a banner."""
    try:
        yield
    except Exception as error:
        shown = trouble_text(error, store)
        if shown is None:
            raise
        with st.container(key=f"store-trouble-{key}"):
            st.error(inert.markdown(shown, limit=2000), icon=":material/hard_drive:")
