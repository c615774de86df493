"""A notification's signed link (`/?item=approval-42&exp=…&nonce=…&sig=…`), opened.

The app has already signed the person in (beyond loopback) before this runs. The link only
points: a good one, used for the first time by someone whose role may decide the item, moves
to the item's run with the approval selected (`inbox_selected`), where the person decides as
always. An expired, reused or changed link, or one the person's role cannot act on, shows why
and nothing of the item.
"""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert
from agent_core.oversight.decisions import role_to_approve
from agent_core.oversight.notify.links import LINK_PARAMS, LinkRefused, SignedItem, check_link
from agent_core.oversight.signin_roles import Person
from dashboard.routes import RUN_PAGE

SELECTED = "inbox_selected"  # session state: the approval id the inbox (and Run page) selects


def open_signed_link(store: storage.Store, person: Person) -> None:
    """Follow the address's signed link, if it holds one; stops the page when it may not open."""
    params = {name: st.query_params.get(name, "") for name in LINK_PARAMS}
    if not params["item"] and not params["sig"]:
        return
    try:
        item = check_link(storage.notify_key(store), params)
        run_id = _run_of(store, item, person)
    except LinkRefused as refused:
        _refuse(str(refused))
        return
    earlier = storage.use_link(store, nonce=item.nonce, item=item.item, by=person.label)
    if earlier is not None:
        _refuse(
            f"This link was already used ({earlier.used_at:%Y-%m-%d %H:%M} UTC, by "
            f"{earlier.used_by}); each link opens once. Find the item on the "
            "Approvals page."
        )
        return
    if item.kind == "approval":
        st.session_state[SELECTED] = int(item.ident)
    st.switch_page(RUN_PAGE, query_params={"run": run_id})


def _run_of(store: storage.Store, item: SignedItem, person: Person) -> str:
    """The run the item belongs to, when this person's role may act on it."""
    try:
        if item.kind == "run":
            return storage.get_run(store, run_id=item.ident).id
        approval = storage.get_approval(store, approval_id=int(item.ident))
    except storage.NotFound as missing:
        raise LinkRefused(
            f"The link points at something this store does not hold ({missing})."
        ) from missing
    needed = role_to_approve(store, approval)
    if not person.may(needed):
        has = f"the {person.role} role" if person.role else "no role"
        raise LinkRefused(
            f"This link asks for a decision that needs the {needed} role, and you are signed in "
            f"with {has}. Forward it to someone with the {needed} role, or ask an onloop admin."
        )
    return approval.run_id


def _refuse(why: str) -> None:
    st.error(inert.person(why, limit=800), icon=":material/link_off:")  # names who used it
    if st.button("Open the dashboard", key="signed_link_home", icon=":material/home:"):
        st.query_params.clear()
        st.rerun()
    st.stop()
