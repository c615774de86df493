"""PostgreSQL's disk fills under a running worker: the store's database lives in a tablespace on a
small tmpfs (as root), a filler takes the last of its room. The same guarantees as SQLite's full
disk (tests/worker/test_disk_faults.py): the worker stays up, says once what is wrong and how to
fix it (SQLSTATE 53100), claims nothing meanwhile, ends the cut session `interrupted` once there
is room, and claims again; nothing is left running without a lease."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

import storage
from agent_core.worker.outage import Outage
from storage.store_faults import store_fault
from tests.support.postgres_server import PostgresServer
from tests.support.run_helpers import new_run
from tests.support.small_disk import fill, small_tablespace_database
from tests.support.worker_process import processes, start_on_two_runs  # noqa: F401
from tests.worker.test_disk_faults import _through_a_full_disk

pytestmark = pytest.mark.timeout(400)


def test_a_full_tablespace_leaves_the_worker_up_and_ends_the_cut_session_interrupted(
    postgres_server: PostgresServer,
    tmp_path: Path,
    processes,  # noqa: F811
):
    with small_tablespace_database(postgres_server, "onloop_full") as (url, disk):
        store = storage.open_store(url)
        try:
            # A run that is never claimed, whose events take the room left in pages the events
            # table already has: a full tablespace still takes a row that fits in one, so the
            # cut run could end (and the queued one too) without a write that meets the fault.
            spare = new_run(store, "room in allocated pages", model="demo")
            storage.update_run(store, run_id=spare.id, status="succeeded")
            args = ["worker", "--db", url, "--concurrency", "1", "--lease-seconds", "3"]
            log = tmp_path / "worker.log"
            worker, cut, queued = start_on_two_runs(store, args, log, processes)
            _through_a_full_disk(
                store, disk, worker, cut, queued, then=lambda: _take_the_pages(store, spare.id)
            )
        finally:
            for process in processes:
                process.end()
            store.dispose()


def _take_the_pages(store: storage.Store, run_id: str) -> None:
    """Append the smallest events to run `run_id` until the full tablespace refuses one: no
    allocated page of the events table then has room for any event a run writes."""
    for _ in range(100_000):
        try:
            storage.append_event(store, run_id=run_id, kind="judge", payload={})
        except DBAPIError as error:
            assert store_fault(error, store).kind == "full", error
            return
    raise AssertionError("the events table took 100,000 events on a full tablespace")


def test_the_outage_lasts_while_the_tablespace_is_full(postgres_server: PostgresServer):
    """A full tablespace still takes an UPDATE whose new row version fits in its page: the
    worker's probe must need a new page, or the worker says the store takes writes again (and
    claims) while every write that grows a table fails. Whichever of its threads met the fault
    first (the claim loop, before the run's own thread), it flapped between the two lines."""
    with small_tablespace_database(postgres_server, "onloop_full_probe") as (url, disk):
        store = storage.open_store(url)
        try:
            run = new_run(store, "fill the tablespace", model="demo")
            filler = fill(disk)
            stopping = threading.Event()
            stopping.set()  # recover() waits on it between attempts: no wait here
            outage = Outage(store, stopping)
            with pytest.raises(DBAPIError) as caught:
                for n in range(10_000):  # a new page of events soon meets the full disk
                    storage.append_event(store, run_id=run.id, kind="judge", payload={"n": n})
            assert store_fault(caught.value, store).kind == "full", caught.value
            assert outage.met(caught.value)
            assert not outage.recover() and outage.fault is not None
            assert not outage.writable.is_set()
            filler.unlink()
            assert outage.recover() and outage.fault is None
            storage.append_event(store, run_id=run.id, kind="judge", payload={"n": "after"})
        finally:
            store.dispose()
