"""The reads every open page repeats: one indexed read each, shared by all viewers for a TTL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

import storage
from dashboard.components import shared_reads as watch
from dashboard.store import get_store
from storage.shared_reads import SharedReads, live_board, pending_approval_count
from tests.support.dashboard_fixtures import app_at, make_run, request_approval

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_shared_within_the_ttl_and_fresh_after_it(store):
    clock = Clock()
    shared = SharedReads(ttl=0.25, clock=clock)
    run = make_run(store, "running")
    assert shared.get(store, "pending", pending_approval_count) == 0
    request_approval(store, run.id)
    clock.now += 0.2
    assert shared.get(store, "pending", pending_approval_count) == 0  # within the TTL: shared
    clock.now += 0.05
    assert shared.get(store, "pending", pending_approval_count) == 1  # never older than the TTL


def test_answers_are_kept_per_store_and_question(store, tmp_path):
    shared = SharedReads(ttl=60, clock=Clock())
    other = storage.open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        request_approval(store, make_run(store, "waiting").id)
        assert shared.get(store, "pending", pending_approval_count) == 1
        assert shared.get(other, "pending", pending_approval_count) == 0
        assert len(shared.get(store, "board", live_board).runs) == 1
        shared.forget(store)
        request_approval(store, make_run(store, "waiting").id)
        assert shared.get(store, "pending", pending_approval_count) == 2
    finally:
        other.dispose()


def test_callers_arriving_during_a_read_wait_for_it_instead_of_reading_again():
    shared = SharedReads(ttl=60, clock=Clock())
    key = storage.Store.__new__(storage.Store)  # any weak-referenceable store object will do
    started, release = threading.Event(), threading.Event()
    reads: list[int] = []

    def slow_read(_store) -> int:
        reads.append(1)
        started.set()
        release.wait(10)
        return 7

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(shared.get(key, "q", slow_read)))
    first.start()
    assert started.wait(10)
    others = [
        threading.Thread(target=lambda: results.append(shared.get(key, "q", slow_read)))
        for _ in range(5)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert results == [7] * 6
    assert len(reads) == 1


def test_the_live_board_is_newest_first_with_pending_counts_per_run(store):
    older = make_run(store, "waiting")
    newer = make_run(store, "running")
    make_run(store, "succeeded")
    request_approval(store, older.id)
    request_approval(store, older.id)
    board = live_board(store)
    assert [run.id for run in board.runs] == [newer.id, older.id]
    assert (board.pending_for(older.id), board.pending_for(newer.id)) == (2, 0)
    assert pending_approval_count(store) == 2


def _count_queries(store: storage.Store, action) -> int:
    counted: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "count(" in statement.lower() and "approvals" in statement:
            counted.append(statement)

    event.listen(store.reader, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(store.reader, "before_cursor_execute", count)
    return len(counted)


def test_two_viewers_share_the_sidebar_count(store, monkeypatch):
    monkeypatch.setattr(watch.SHARED, "ttl", 60.0)  # both sessions run well within it
    request_approval(store, make_run(store, "waiting").id)
    first = app_at()
    second = app_at()
    dashboard_store = get_store()
    watch.SHARED.forget(dashboard_store)
    # The sidebar's count, and the live board the browser notifications watch for run ends.
    assert _count_queries(dashboard_store, first.run) == 2
    assert _count_queries(dashboard_store, second.run) == 0  # the second tab reuses the answers
    for at in (first, second):
        assert not at.exception
        assert at.metric[0].label == "Pending approvals" and at.metric[0].value == "1"


def test_the_sidebar_count_follows_a_new_request(store):
    run = make_run(store, "waiting")
    at = app_at()
    assert at.metric[0].value == "0"
    request_approval(store, run.id)
    at.run()  # what the sidebar's half-second run_every does in a browser
    assert at.metric[0].value == "1"


def test_the_dashboard_turns_off_streamlits_forced_collection_after_each_rerun(store):
    """A full gc.collect after every fragment rerun was most of an idle open page's server CPU."""
    from streamlit import config

    config.set_option("runner.postScriptGC", True)  # Streamlit's default
    app_at()
    assert config.get_option("runner.postScriptGC") is False


def test_two_viewers_toast_a_new_request_from_one_read_of_the_list(store, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(watch.SHARED, "ttl", 0.25)
    monkeypatch.setattr(watch.SHARED, "_clock", clock)
    run = make_run(store, "waiting")
    first, second = app_at(), app_at()
    request_approval(store, run.id)
    clock.now += 1  # past the TTL: the next look reads the store again
    dashboard_store = get_store()
    lists: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        listed = "FROM approvals" in statement and "ORDER BY" in statement
        if listed and "FROM runs" not in statement:  # not the live board (its own shared read)
            lists.append(statement)

    event.listen(dashboard_store.reader, "before_cursor_execute", count)
    try:
        first.run()
        second.run()
    finally:
        event.remove(dashboard_store.reader, "before_cursor_execute", count)
    assert len(lists) == 1
    for at in (first, second):
        (toast,) = at.toast
        assert f"Run {run.id} is waiting for approval" in toast.value
