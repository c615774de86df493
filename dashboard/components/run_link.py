"""Links to other pages that work both inside the router and when a page script runs alone."""

from __future__ import annotations

from urllib.parse import quote

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from agent_core.oversight import inert

RUN_PAGE = "views/run.py"  # relative to dashboard/app.py, the router's main script


def run_url(run_id: str) -> str:
    """The Run page's address relative to any page of the app (keeps a server's base path): the
    main page with the run named, which the router opens as the Run page (dashboard/deep_link)."""
    return f"./?run={quote(run_id, safe='')}"


def run_page_link(run_id: str, *, label: str | None = None) -> None:
    """A link to the Run page of `run_id`."""
    page_link(RUN_PAGE, label=label or f"Open run {run_id}", query_params={"run": run_id})


def page_link(page: str, *, label: str, query_params: dict[str, str] | None = None) -> None:
    """st.page_link when `page` is registered with the router, else a plain relative link.

    A page script run on its own (AppTest, `streamlit run dashboard/views/x.py`) has no router,
    and st.page_link refuses pages it does not know.
    """
    try:
        st.page_link(page, label=label, query_params=query_params)
    except StreamlitPageNotFoundError:
        url_path = page.rsplit("/", 1)[-1].removesuffix(".py")
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (query_params or {}).items())
        st.markdown(f"[{inert.markdown(label)}]({url_path}{'?' + query if query else ''})")
