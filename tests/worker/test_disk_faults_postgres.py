"""PostgreSQL's disk fills under a running worker: the store's database lives in a tablespace on a
small tmpfs (as root), a filler takes the last of its room. The same guarantees as SQLite's full
disk (tests/worker/test_disk_faults.py): the worker stays up, says once what is wrong and how to
fix it (SQLSTATE 53100), claims nothing meanwhile, ends the cut session `interrupted` once there
is room, and claims again; nothing is left running without a lease."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import storage
from tests.support.postgres_server import SUPERUSER, PostgresServer
from tests.support.small_disk import small_disk
from tests.support.worker_process import processes, start_on_two_runs  # noqa: F401
from tests.worker.test_disk_faults import _through_a_full_disk

pytestmark = __import__("pytest").mark.timeout(400)


def test_a_full_tablespace_leaves_the_worker_up_and_ends_the_cut_session_interrupted(
    postgres_server: PostgresServer,
    tmp_path: Path,
    processes,  # noqa: F811
):
    # Under the cluster's own folder: the server's user cannot reach into pytest's (0700).
    with small_disk(postgres_server.data.parent / "small-disk") as disk:
        owner = pwd.getpwnam(SUPERUSER)
        os.chown(disk, owner.pw_uid, owner.pw_gid)  # the server writes the tablespace
        postgres_server.admin(f"CREATE TABLESPACE onloop_small LOCATION '{disk}'")
        postgres_server.admin("CREATE DATABASE onloop_full TABLESPACE onloop_small")
        store = storage.open_store(postgres_server.url("onloop_full"))
        try:
            args = ["worker", "--db", postgres_server.url("onloop_full")]
            args += ["--concurrency", "1", "--lease-seconds", "3"]
            log = tmp_path / "worker.log"
            worker, cut, queued = start_on_two_runs(store, args, log, processes)
            _through_a_full_disk(store, disk, worker, cut, queued)
        finally:
            for process in processes:
                process.end()
            store.dispose()
            postgres_server.admin("DROP DATABASE IF EXISTS onloop_full WITH (FORCE)")
            postgres_server.admin("DROP TABLESPACE IF EXISTS onloop_small")
