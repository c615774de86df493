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
from streamlit import config as streamlit_config  # noqa: E402
from streamlit.navigation.page import StreamlitPage  # noqa: E402

import storage  # noqa: E402
from agent_core.models.settings import load_settings  # noqa: E402
from agent_core.oversight import inert  # noqa: E402
from agent_core.oversight.signin_roles import Person  # noqa: E402
from dashboard import routes  # noqa: E402
from dashboard.components.announce import announce_new_approvals  # noqa: E402
from dashboard.components.browser_notify import browser_notifications  # noqa: E402
from dashboard.components.refreshing import refreshing  # noqa: E402
from dashboard.components.shared_reads import pending_count  # noqa: E402
from dashboard.components.signed_link import open_signed_link  # noqa: E402
from dashboard.components.signin import gate, whoami  # noqa: E402
from dashboard.components.store_trouble import store_trouble_banner  # noqa: E402
from dashboard.deep_link import RUN_AT_ROOT, default_page, old_run_link  # noqa: E402
from dashboard.store import get_store  # noqa: E402

# The pending-approvals count follows a new request within a second: a refresh every half second
# reads a count at most SHARED_TTL_SECONDS old, one COUNT per interval for all open tabs.
SIDEBAR_REFRESH_SECONDS = 0.5

# Streamlit runs a full gc.collect(2) after every script run, fragment reruns included: with the
# ORM and plotly loaded that is most of the CPU an idle open page costs (benchmarks/live_view.py).
# Python's own generational collector still runs; only the forced full pass per rerun goes.
streamlit_config.set_option("runner.postScriptGC", False)

# One entry per page, in menu order; a new page is one more line. Material icons: Debian's
# Chromium has no emoji font, and Streamlit ships the Material Symbols font itself.
PAGES = [
    (routes.LAUNCH_PAGE, "Launch", ":material/rocket_launch:"),
    (routes.LIVE_PAGE, "Live", ":material/sensors:"),
    (routes.RUN_PAGE, "Run", ":material/play_circle:"),
    (routes.APPROVALS_PAGE, "Approvals", ":material/front_hand:"),
    (routes.HISTORY_PAGE, "History", ":material/history:"),
    (routes.INSIGHTS_PAGE, "Insights", ":material/insights:"),
    (routes.POLICY_PAGE, "Policy", ":material/shield:"),
]


@refreshing(SIDEBAR_REFRESH_SECONDS, key="sidebar")
def sidebar_status(store: storage.Store) -> None:
    """Pending approvals, refreshed on its own so a new request shows up on any page."""
    _pending_metric(store)


def _pending_metric(store: storage.Store) -> None:
    count = pending_count(store)
    announce_new_approvals(store, count)  # a toast on whatever page is open
    st.metric(
        "Pending approvals",
        count,
        border=True,
        help="Tool calls waiting for a person to approve or reject them.",
    )
    if count:
        st.page_link(routes.APPROVALS_PAGE, label="Answer them", icon=":material/front_hand:")


# On a phone the sidebar starts folded: the count shows above the page too (only there).
PHONE_ONLY = """<style>
@media (min-width: 641px) { .st-key-phone-pending { display: none; } }
</style>"""


@refreshing(2, key="phone")
def phone_pending(store: storage.Store) -> None:
    """The pending count above every page but Approvals (which leads with it), for phones."""
    count = pending_count(store)
    if count:
        with st.container(key="phone-pending"):
            st.page_link(
                routes.APPROVALS_PAGE,
                label=f"{count} approval{'' if count == 1 else 's'} waiting: answer them",
                icon=":material/front_hand:",
            )


def pages_for(person: Person) -> list[StreamlitPage]:
    """The pages this person's role opens: Launch from operator up, Policy for admins only."""
    hidden = set()
    if not person.may("operator"):
        hidden.add(routes.LAUNCH_PAGE)
    if not person.may("admin"):
        hidden.add(routes.POLICY_PAGE)
    shown = [spec for spec in PAGES if spec[0] not in hidden]
    # Out of the menu, still at their address: the page says which role it needs (page_needs).
    unlisted = [
        st.Page(path, title=title, icon=icon, visibility="hidden")
        for path, title, icon in PAGES
        if path in hidden
    ]
    run = st.query_params.get("run")
    main = default_page([spec[0] for spec in shown], run=run)
    if main != routes.RUN_PAGE or not run:
        return [
            *(
                st.Page(path, title=title, icon=icon, default=path == main)
                for path, title, icon in shown
            ),
            *unlisted,
        ]
    # The Run page is shown at `/?run=ID`; `/run` stays a (hidden) page that moves on there.
    pages = [
        st.Page(path, title=title, icon=icon, default=True, url_path=RUN_AT_ROOT)
        if path == main
        else st.Page(path, title=title, icon=icon)
        for path, title, icon in shown
    ]
    return [*pages, *unlisted, old_run_link(run)]


def main() -> None:
    st.set_page_config(page_title="onloop", page_icon=":material/autorenew:", layout="wide")
    person = gate()  # stops here for anyone not signed in or without a role
    page = st.navigation(pages_for(person))
    try:
        store = get_store()
    except storage.StoreError as error:
        st.error(f"The dashboard cannot open its store: {inert.markdown(error, limit=800)}")
        st.stop()
    with store_trouble_banner(store, key="page"):  # full, read-only, I/O: a banner
        _serve(store, person, page)


def _serve(store: storage.Store, person: Person, page: StreamlitPage) -> None:
    open_signed_link(store, person)  # a notification's link: checked, then to its item
    with st.sidebar:
        whoami(person)
        sidebar_status(store)
        browser_notifications(store, person)  # permission asked on a click; new items pop up
        st.caption("Active model")
        st.text(load_settings().describe_model())  # holds a configured URL: text, not Markdown
    if page.title != "Approvals":
        st.html(PHONE_ONLY)
        phone_pending(store)
    page.run()


main()
