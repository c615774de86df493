"""Approvals: every pending approval across all runs, as a list to decide from.

Riskiest first, then oldest. The selected approval's controls sit beside the list on a desktop
and under it on a phone, on the first screen either way; each has one key (J/K move, A approve,
X reject with a note, E edit, N not now, O open the run). Ticking several decides them at once.
"""

from __future__ import annotations

import streamlit as st

import storage
from dashboard.components.approval_card import SELECTED, render_approval_card
from dashboard.components.approval_decide import render_decision_notices
from dashboard.components.inbox_batch import render_batch, render_batch_result
from dashboard.components.inbox_list import render_list, selected_approval
from dashboard.components.refreshing import refreshing
from dashboard.components.run_link import page_link
from dashboard.components.run_state import INBOX_SELECTED
from dashboard.components.shared_reads import pending_count
from dashboard.components.snooze_controls import render_snoozed_line
from dashboard.store import current_person, get_store

KEY = "inbox"
SHOWN = 25  # listed at first; the rest on request
SHOWN_KEY = f"{KEY}-shown"
EMPTY = (
    "No approvals waiting. Runs in supervised mode ask here before risky actions — "
    "launch one on the Launch page."
)
EMPTY_PUT_OFF = "Nothing waiting for you now: the approvals still waiting are put off (below)."
# The list scrolls on its own so that the selected approval's controls stay on the first screen,
# under the list on a phone (Streamlit stacks columns below 640 px).
STYLE = """<style>
.st-key-inbox-list { max-height: 52vh; overflow-y: auto; }
@media (max-width: 640px) {
  .st-key-inbox-list { max-height: 150px; }
  .st-key-inbox-keys { display: none; }
}
</style>"""


# A new request (or one decided elsewhere) redraws the inbox within WATCH_SECONDS: a shared,
# cached COUNT for all open tabs. The list itself redraws every REFRESH_SECONDS for the ages and
# the approvals whose Not now has run out.
WATCH_SECONDS = 0.5
REFRESH_SECONDS = 5
SEEN_KEY = f"{KEY}-seen-count"


@refreshing(WATCH_SECONDS, key="inbox-watch")
def watch_for_changes() -> None:
    count = pending_count(get_store())
    seen = st.session_state.get(SEEN_KEY)
    st.session_state[SEEN_KEY] = count
    if seen is not None and seen != count:
        st.rerun(scope="app")


def _show_more() -> None:
    st.session_state[SHOWN_KEY] = st.session_state.get(SHOWN_KEY, SHOWN) + SHOWN


@refreshing(REFRESH_SECONDS, key="inbox")
def inbox() -> None:
    store = get_store()
    who = current_person().label
    pending = storage.inbox_approvals(store, who=who, limit=st.session_state.get(SHOWN_KEY, SHOWN))
    total = storage.count_pending_approvals(store)
    st.session_state[SEEN_KEY] = total  # the watcher redraws the page when this changes
    render_decision_notices(key_prefix=KEY, limit=1)
    render_batch_result()
    if not pending:
        st.info(EMPTY_PUT_OFF if total else EMPTY, icon=":material/inbox:")
        render_snoozed_line(store, key=KEY)
        page_link("views/launch.py", label="Go to the Launch page")
        return
    listed = f"the first {len(pending)} listed" if len(pending) < total else "all listed"
    st.caption(f"**{total} waiting** ({listed}). New requests show up here by themselves.")
    chosen = selected_approval(pending)
    list_side, detail_side = st.columns([2, 3], gap="medium")
    with list_side:
        render_list(store, pending)
        render_snoozed_line(store, key=KEY)
        if total > len(pending):
            st.button(
                f"Show {SHOWN} more",
                key=f"{KEY}-show-more",
                on_click=_show_more,
            )
        render_batch(store, pending)
    with detail_side:
        render_approval_card(store, chosen, key_prefix=KEY, inbox=True)


def _open_on_the_asked_approval() -> None:
    """Select the approval a link or the Run page's "Decide in the inbox" named, once."""
    asked = st.session_state.pop(INBOX_SELECTED, None)
    wanted = st.query_params.get("approval")
    if wanted is not None:
        del st.query_params["approval"]
        # From a link anyone can send: str.isdigit takes "²", which int() refuses.
        asked = int(wanted) if wanted.isascii() and wanted.isdigit() else asked
    if isinstance(asked, int):
        st.session_state[SELECTED] = asked


st.html(STYLE)
st.title("Approvals")
_open_on_the_asked_approval()
inbox()
watch_for_changes()
