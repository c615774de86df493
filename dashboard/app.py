"""The dashboard's entry point: page setup, the router, and the sidebar every page shares.

Run it with `onloop up`, or `streamlit run dashboard/app.py`. Pages only read the store and write
rows (runs, commands, decisions); workers drive the runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

import storage  # noqa: E402
from agent_core.settings import load_settings  # noqa: E402
from dashboard import routes  # noqa: E402
from dashboard.components.announce import announce_new_approvals  # noqa: E402
from dashboard.store import get_store  # noqa: E402

SIDEBAR_REFRESH_SECONDS = 3.0

# One entry per page, in menu order; a new page is one more line. Icons are emoji on purpose:
# the browser tab shows the page's icon, and a :material/...: icon there is fetched from
# fonts.gstatic.com, while an emoji is drawn locally.
PAGES = [
    st.Page(routes.LAUNCH_PAGE, title="Launch", icon=":material/rocket_launch:", default=True),
    st.Page(routes.LIVE_PAGE, title="Live", icon=":material/sensors:"),
    st.Page(routes.RUN_PAGE, title="Run", icon=":material/play_circle:"),
    st.Page(routes.APPROVALS_PAGE, title="Approvals", icon=":material/front_hand:"),
    st.Page(routes.HISTORY_PAGE, title="History", icon=":material/history:"),
    st.Page(routes.INSIGHTS_PAGE, title="Insights", icon=":material/insights:"),
    st.Page(routes.POLICY_PAGE, title="Policy", icon=":material/shield:"),
]


@st.fragment(run_every=SIDEBAR_REFRESH_SECONDS)
def sidebar_status(store: storage.Store) -> None:
    """Pending approvals, refreshed on its own so a new request shows up on any page."""
    count = storage.count_pending_approvals(store)
    announce_new_approvals(store, count)  # a toast on whatever page is open
    st.metric(
        "Pending approvals",
        count,
        border=True,
        help="Tool calls waiting for a person to approve or reject them.",
    )
    if count:
        st.page_link(routes.APPROVALS_PAGE, label="Answer them", icon=":material/front_hand:")


def main() -> None:
    st.set_page_config(page_title="onloop", page_icon=":material/autorenew:", layout="wide")
    page = st.navigation(PAGES)
    try:
        store = get_store()
    except storage.StoreError as error:
        st.error(f"The dashboard cannot open its store: {error}")
        st.stop()
    with st.sidebar:
        sidebar_status(store)
        st.caption("Active model")
        st.text(load_settings().describe_model())  # holds a configured URL: text, not Markdown
    page.run()


main()
