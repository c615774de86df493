"""Deep links to a run are `/?run=ID`: the router's main page shows the Run page for them.

Streamlit's frontend finds its server by trying the page's own path as the base path first, then
its parent: opening `/run?run=ID` asked for `/run/_stcore/health` and `/run/_stcore/host-config`
(two 404s on every load) before `/_stcore/...`. At `/` the first try is the right one. So while
the address names a run, the router makes the Run page its default page: it is then the page
shown at `/`, and the frontend rewrites the address of in-app links and of older `/run?run=ID`
links to `/?run=ID`, the one a person copies.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard.routes import RUN_PAGE

RUN_AT_ROOT = "run-at-root"  # the Run page's own path while it is the page at `/` (never shown)


def default_page(pages: Sequence[str], *, run: str | None) -> str:
    """The page the router shows at `/`: the Run page for a link naming a run, else the first."""
    if run and RUN_PAGE in pages:
        return RUN_PAGE
    return pages[0]


def old_run_link(run: str) -> StreamlitPage:
    """A hidden page at `/run`, the address of links from before: it moves on to `/?run=ID`.
    Without it the frontend finds no page at `/run` and covers the Run page with a "page not
    found" dialog that leaves every widget under it inert."""

    def forward() -> None:
        st.switch_page(RUN_PAGE, query_params={"run": run})

    return st.Page(forward, title="Run (old link)", url_path="run", visibility="hidden")
