"""Every self-refreshing part of a page (dashboard.components.refreshing) meets a store in trouble
with the banner, never Streamlit's exception box, and comes back once the store does."""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event
from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

import storage
from dashboard.routes import APPROVALS_PAGE, LIVE_PAGE, RUN_PAGE
from dashboard.store import get_store
from tests.support.dashboard_fixtures import app_at, make_run, plain, request_approval

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
FAULTS = {
    # SQLite's own words and result codes.
    "io": ("disk I/O error", 10, "The store's disk gives I/O errors (disk I/O error)"),
    "locked": ("database is locked", 5, "The store does not answer now"),
    "full": ("database or disk is full", 13, "The store's disk is full"),
}


# The fragments each page has, by the name of the function Streamlit reruns.
FRAGMENTS = {
    "launch": {"sidebar_status", "phone_pending"},
    "live": {"busy_board"},
    "run": {"live_steps"},
    "approvals": {"inbox", "watch_for_changes"},
}


def _inside(names: set[str]) -> bool:
    """Whether this statement runs inside one of the fragments `names` (on any run)."""
    if ThreadState.get().fragment_id is None:
        return False
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in names:
            return True
        frame = frame.f_back
    return False


@contextmanager
def fragments_fail(kind: str, names: set[str]) -> Iterator[None]:
    """Every statement run inside the fragments `names` (st.fragment, on a full run or its own)
    fails as SQLite fails with `kind`; the page's other reads work."""
    message, code, _ = FAULTS[kind]

    def fail(conn, cursor, statement, parameters, context, executemany):
        if _inside(names):
            failure = sqlite3.OperationalError(message)
            failure.sqlite_errorcode = code
            raise failure

    engine = get_store().engine
    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def _errors(at) -> str:
    return " ".join(plain(e.value) for e in at.error)


def _page(store: storage.Store, where: str):
    """The app on `where`, with something for its fragments to show."""
    run = make_run(store, "running", goal="Tidy the reports folder")
    if where == "approvals":
        request_approval(store, make_run(store, "waiting").id)
        return app_at(APPROVALS_PAGE)
    if where == "run":
        return app_at(RUN_PAGE, query={"run": run.id})
    return app_at(LIVE_PAGE) if where == "live" else app_at()


@pytest.mark.parametrize("kind", sorted(FAULTS))
@pytest.mark.parametrize("where", ["launch", "live", "run", "approvals"])
def test_a_fragment_in_store_trouble_shows_the_banner_and_comes_back(store, where, kind):
    at = _page(store, where)
    assert not at.exception
    with fragments_fail(kind, FRAGMENTS[where]):
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        banners = [e for e in at.error if FAULTS[kind][2] in plain(e.value)]
        assert len(banners) == len(FRAGMENTS[where]), _errors(at)
    at.run()  # the store answers again: the next refresh draws the part as before
    assert not at.exception
    assert FAULTS[kind][2] not in _errors(at)
    if where == "live":
        assert "Tidy the reports folder" in " ".join(m.value for m in at.markdown)
    if where == "approvals":
        assert "1 waiting" in " ".join(c.value for c in at.caption)


def test_a_bug_in_a_fragment_is_still_shown_as_one(store):
    at = _page(store, "live")

    def bug(conn, cursor, statement, parameters, context, executemany):
        if ThreadState.get().fragment_id is not None:
            failure = sqlite3.OperationalError("no such column: nope")
            failure.sqlite_errorcode = 1  # SQLITE_ERROR: a bug, not the store's trouble
            raise failure

    event.listen(get_store().engine, "before_cursor_execute", bug)
    at.run()
    event.remove(get_store().engine, "before_cursor_execute", bug)
    assert at.exception
    assert "no such column" in at.exception[0].value


def test_every_self_refreshing_fragment_goes_through_the_wrapper():
    """A new `st.fragment(run_every=...)` would show a traceback on a store fault again."""
    direct = [
        f"{path.relative_to(DASHBOARD)}:{number}"
        for path in DASHBOARD.rglob("*.py")
        if path.name != "refreshing.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"st\.fragment\(\s*run_every", line)
    ]
    assert direct == []
