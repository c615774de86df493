"""Several writers at once (processes, threads) never fail, never share a run, never skip a seq."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import storage

WORKERS = 4
EVENTS_EACH = 200


def _seqs(store, run_id: str) -> list[int]:
    return [e.seq for e in storage.events_after(store, run_id=run_id)]


def _append_in_process(url, own_run, shared_run, barrier, results):
    try:
        store = storage.open_store(url)
        barrier.wait()
        for i in range(EVENTS_EACH):
            storage.append_event(store, run_id=own_run, kind="model_call", payload={"i": i})
            if i % 4 == 0:
                storage.append_event(store, run_id=shared_run, kind="guidance", payload={"i": i})
        results.put(("ok", own_run))
    except Exception as error:  # reported to the parent, which fails the test with it
        results.put(("error", repr(error)))


def _claim_in_process(url, worker_id, barrier, results):
    try:
        store = storage.open_store(url)
        barrier.wait()
        claimed = []
        while run := storage.claim_next_run(store, worker_id=worker_id, lease_seconds=60):
            storage.append_event(
                store, run_id=run.id, kind="run_started", payload={"by": worker_id}
            )
            claimed.append(run.id)
        results.put(("ok", (worker_id, claimed)))
    except Exception as error:
        results.put(("error", repr(error)))


def _run_processes(target, args_per_process):
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited connections
    barrier, results = context.Barrier(len(args_per_process)), context.Queue()
    processes = [
        context.Process(target=target, args=(*args, barrier, results)) for args in args_per_process
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert [o for o in outcomes if o[0] != "ok"] == []
    return [value for _, value in outcomes]


def test_processes_appending_at_once_keep_every_run_gapless(store):
    own = [storage.create_run(store, goal=f"own {i}").id for i in range(WORKERS)]
    shared = storage.create_run(store, goal="shared").id
    _run_processes(_append_in_process, [(store.url, run_id, shared) for run_id in own])
    for run_id in own:
        assert _seqs(store, run_id) == list(range(1, EVENTS_EACH + 2))
    shared_count = 1 + WORKERS * len(range(0, EVENTS_EACH, 4))
    assert _seqs(store, shared) == list(range(1, shared_count + 1))
    assert storage.get_run(store, run_id=shared).last_seq == shared_count


def test_processes_claiming_at_once_never_share_a_run(store):
    queued = {storage.create_run(store, goal=f"job {i}").id for i in range(50)}
    claims = dict(_run_processes(_claim_in_process, [(store.url, f"w{i}") for i in range(WORKERS)]))
    everything = [run_id for claimed in claims.values() for run_id in claimed]
    assert len(everything) == len(set(everything)) == 50 and set(everything) == queued
    for worker, claimed in claims.items():
        for run_id in claimed:
            run = storage.get_run(store, run_id=run_id)
            assert (run.status, run.worker_id, run.last_seq) == ("running", worker, 2)


def test_threads_sharing_one_store_number_events_without_gaps(store):
    run = storage.create_run(store, goal="threads")
    errors = []

    def append_many():
        try:
            for i in range(100):
                storage.append_event(store, run_id=run.id, kind="guidance", payload={"i": i})
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=append_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _seqs(store, run.id) == list(range(1, 802))


def test_readers_pass_a_held_write_lock_and_writers_wait_for_it(store):
    run = storage.create_run(store, goal="lock it")
    blocker = sqlite3.connect(store.engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process mid-write
    assert storage.get_run(store, run_id=run.id).last_seq == 1  # reads take no write lock
    assert [e.seq for e in storage.last_events(store, run_id=run.id, n=5)] == [1]
    outcome = []
    writer = threading.Thread(
        target=lambda: outcome.append(
            storage.append_event(store, run_id=run.id, kind="guidance", payload={})
        )
    )
    writer.start()
    writer.join(timeout=0.3)  # it waits on the lock (busy_timeout) instead of failing
    assert outcome == []  # nothing can commit while the blocker holds the write lock
    blocker.execute("COMMIT")
    blocker.close()
    writer.join()
    assert outcome == [2]
