"""A full disk under a running worker and `onloop up`: they stay up, say once what is wrong and
how to fix it, claim nothing while they cannot write, and once there is room again end the
sessions the disk cut off `interrupted` (resumable, the reason saying why) and claim again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storage
from storage.vocabulary import DRIVEN
from tests.support.run_helpers import wait_for
from tests.support.small_disk import fill, small_disk
from tests.support.worker_process import (  # noqa: F401  (processes: a fixture)
    PATIENCE,
    Process,
    assert_up_having_said_once,
    processes,
    start_on_two_runs,
    worker_args,
)

FULL_LINE = "the store's disk is full"
pytestmark = pytest.mark.timeout(400)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as folder:
        yield folder


def _status(store: storage.Store, run_id: str) -> str:
    return storage.get_run(store, run_id=run_id).status


def _no_run_driven_without_a_lease(store: storage.Store) -> None:
    for run in storage.list_runs(store, limit=100):
        if run.status in DRIVEN:
            assert run.worker_id and run.lease_expires_at, (run.id, run.status)


def _through_a_full_disk(
    store,
    disk: Path,
    proc: Process,
    cut: str,
    queued: str,
    then: Callable[[], None] | None = None,
) -> None:
    """Fill the disk under run `cut` (driven, making progress), with run `queued` waiting for a
    slot; `then`, if given, takes whatever room the store keeps beyond the disk's (pages it has
    already allocated), so that the run's next write meets the fault whatever its timing."""
    filler = fill(disk)
    try:
        if then is not None:
            then()
        # Still under way once the disk is full, or the test proves nothing: say so plainly.
        assert _status(store, cut) in DRIVEN, f"run {cut} ended before the disk filled"
        wait_for(lambda: FULL_LINE in proc.text(), PATIENCE, "the one line about the disk")
        # The disk stays full until the run's own thread has met it (between two demo steps):
        # freed as soon as the poll met it, the run would go on untouched, rightly.
        wait_for(lambda: f"run {cut}: cut off" in proc.text(), PATIENCE, "the run to be cut off")
        assert proc.alive(), proc.text()[-3000:]
        assert _status(store, queued) == "queued"  # nothing is claimed while the disk is full
    finally:
        filler.unlink()
    try:
        wait_for(lambda: _status(store, cut) == "interrupted", PATIENCE, "the cut run to end")
    except AssertionError:
        run = storage.get_run(store, run_id=cut)
        raise AssertionError(f"{run.status} ({run.reason}); log:\n{proc.text()[-4000:]}") from None
    run = storage.get_run(store, run_id=cut)
    assert "disk" in (run.reason or "") and "full" in (run.reason or ""), run.reason
    assert run.worker_id is None  # released: resumable by `onloop resume`
    wait_for(lambda: _status(store, queued) == "succeeded", PATIENCE, "the next claim")
    log = assert_up_having_said_once(proc, FULL_LINE)
    assert "free space on" in log and "retries every" in log
    _no_run_driven_without_a_lease(store)


def test_a_full_disk_leaves_the_worker_up_and_ends_the_cut_sessions_interrupted(
    disk,
    tmp_path,
    processes,  # noqa: F811
):
    store = storage.open_store(f"sqlite:///{disk / 'onloop.db'}")
    try:
        log = tmp_path / "worker.log"
        worker, cut, queued = start_on_two_runs(store, worker_args(store), log, processes)
        _through_a_full_disk(store, disk, worker, cut, queued)
    finally:
        store.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_onloop_up_stays_up_through_a_full_disk(disk, tmp_path, processes):  # noqa: F811
    store = storage.open_store(f"sqlite:///{disk / 'onloop.db'}")
    try:
        args = ["up", "--db", store.url, "--port", str(_free_port()), "--concurrency", "1"]
        up, cut, queued = start_on_two_runs(store, args, tmp_path / "up.log", processes)
        _through_a_full_disk(store, disk, up, cut, queued)
        assert "onloop stopped" not in up.text()
    finally:
        store.dispose()
