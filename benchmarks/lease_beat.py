"""A worker's lease heartbeat: the CPU and wall time of renewing N leases one transaction each
(`storage.renew_lease`, as the heartbeat did) and in one beat (`storage.renew_leases`), on a
SQLite file and (with --postgres) a throwaway PostgreSQL server, in turn.

Run from the repo root: `python benchmarks/lease_beat.py [--runs 300] [--rounds 3] [--postgres]`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator

from harness import ROOT, throwaway_postgres

sys.path.insert(0, str(ROOT))


def timed(work) -> tuple[float, float]:
    """(CPU ms of this thread, wall ms) of `work()`."""
    cpu, wall = time.thread_time(), time.perf_counter()
    work()
    return (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


@contextlib.contextmanager
def stores(postgres: bool) -> Iterator[list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory(prefix="onloop-lease-") as folder:
        urls = [("sqlite", f"sqlite:///{folder}/onloop.db")]
        if not postgres:
            yield urls
            return
        with throwaway_postgres() as pg:
            yield [*urls, ("postgresql", pg.url(pg.create_database()))]


def measure(label: str, url: str, runs: int, rounds: int) -> None:
    import storage

    store = storage.open_store(url)
    claims = []
    for n in range(runs):
        run = storage.create_run(store, goal=f"lease {n}", model="demo")
        taken = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=30)
        assert taken is not None
        claims.append((taken.id, taken.claim_epoch))

    def one_each() -> None:
        for run_id, epoch in claims:
            storage.renew_lease(store, run_id=run_id, worker_id="w", lease_seconds=30, epoch=epoch)

    def one_beat() -> None:
        kept = storage.renew_leases(store, worker_id="w", claims=claims, lease_seconds=30)
        assert len(kept) == runs

    for round_ in range(1, rounds + 1):
        (each_cpu, each_wall), (beat_cpu, beat_wall) = timed(one_each), timed(one_beat)
        print(
            f"{label:<11} round {round_}: {runs} leases one transaction each {each_cpu:.1f} ms "
            f"CPU ({each_wall:.1f} wall); in one beat {beat_cpu:.1f} ms CPU ({beat_wall:.1f} wall)"
        )
    store.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args(argv)
    if min(args.runs, args.rounds) < 1:
        parser.error("--runs and --rounds must be >= 1")
    with stores(args.postgres) as urls:
        for label, url in urls:
            measure(label, url, args.runs, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
