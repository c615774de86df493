"""What durability costs per step: onloop's default (an fsync only for each tool start, decision
and halt) against FULL for every commit, interleaved.

Run from the repo root: `python benchmarks/durability.py [--steps 20] [--rounds 7] [--dir DIR]`.

Each round drives one run of `--steps` model calls (each with one calculator call, then the
final answer) in each mode, in an order that alternates (AB BA AB ...), in this process
against a zero-latency model server in a child process (benchmarks/hot_path.py's), each mode on
a fresh SQLite store in `--dir` (default: the temp dir; its file system is printed, since an
fsync on tmpfs costs nothing). One warm-up run per mode first.

Per mode: write transactions (COMMITs after BEGIN IMMEDIATE) per step and how many of them ran
with `synchronous=FULL` (each an fsync of the WAL), counted from SQLite's trace of every
statement; ms per step from the first model request to the final answer (the store's own
timestamps) and CPU ms per step of this process, as medians with min-max over the rounds; and
the per-round ratio FULL / default. Counts do not depend on the machine; times do (the load
average at start and end is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fairness import MIN_ROUNDS, ONLOOP_DURABILITY, header, load_average, spread  # noqa: E402
from hot_path import WATCHER, Server, _model_factory, _new_run  # noqa: E402

MODES = ("normal", "full")


class CommitCounter:
    """Write transactions of a store's connections and the synchronous pragma at each COMMIT."""

    def __init__(self, store) -> None:
        from sqlalchemy import event

        self.counts: Counter[str] = Counter()
        self._mode: dict[int, str] = {}
        self._writing: set[int] = set()
        event.listen(store.engine, "connect", self._traced)
        store.engine.dispose()  # connections opened from now on are traced from their start

    def _traced(self, dbapi_connection, record) -> None:
        key = id(dbapi_connection)
        self._mode[key] = record.info.get("onloop_sqlite_synchronous", "NORMAL")
        dbapi_connection.set_trace_callback(lambda sql: self._saw(key, sql))

    def _saw(self, key: int, sql: str) -> None:
        if threading.current_thread().name == WATCHER:
            return
        if sql.startswith("PRAGMA synchronous ="):
            self._mode[key] = sql.split("=")[1].strip()
        elif sql.startswith("BEGIN IMMEDIATE"):
            self._writing.add(key)
        elif sql == "COMMIT" and key in self._writing:
            self._writing.discard(key)
            self.counts["commits"] += 1
            self.counts["full"] += self._mode[key] == "FULL"
        elif sql == "ROLLBACK":
            self._writing.discard(key)


def one_run(folder: Path, mode: str, steps: int, base_url: str) -> dict[str, float]:
    """A fresh store in `mode`, one run driven to its end: its figures per step."""
    import storage
    from agent_core.worker.claim_loop import drive_run

    os.environ["ONLOOP_SQLITE_SYNCHRONOUS"] = mode  # read when the store opens
    store = storage.open_store(f"sqlite:///{folder / f'{mode}-{time.monotonic_ns()}.db'}")
    try:
        counter = CommitCounter(store)
        run = _new_run(store, f"durability: {mode}")
        claimed = storage.claim_run(store, run_id=run.id, worker_id="bench", lease_seconds=60)
        counter.counts.clear()
        cpu = time.process_time()
        outcome = drive_run(store, claimed, model_factory=_model_factory(base_url))
        cpu = time.process_time() - cpu
        if outcome.status != "succeeded":
            raise RuntimeError(f"the {mode} run ended {outcome.status}: {outcome}")
        events = storage.events_after(store, run_id=run.id)
    finally:
        store.dispose()
    first = next(e.at for e in events if e.kind == "model_request")
    last = next(e.at for e in events if e.kind == "final_answer")
    return {
        "ms": (last - first).total_seconds() / steps * 1000,
        "cpu_ms": cpu / steps * 1000,
        "commits": counter.counts["commits"] / steps,
        "full": counter.counts["full"] / steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="model calls per run")
    parser.add_argument("--rounds", type=int, default=7, help=f">= {MIN_ROUNDS} to quote")
    parser.add_argument("--dir", default="", help="where the stores go (default: temp dir)")
    args = parser.parse_args(argv)
    if args.steps < 2 or args.rounds < 1:
        parser.error("--steps >= 2 and --rounds >= 1")
    os.environ.setdefault("ONLOOP_WORKSPACES", tempfile.mkdtemp())
    server = Server(0.0, calls=args.steps)
    taken: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    try:
        with tempfile.TemporaryDirectory(dir=args.dir or None) as tmp:
            folder = Path(tmp)
            print(header(folder))
            print(f"durability: {args.steps} steps per run, {args.rounds} rounds, alternating")
            for mode in MODES:  # warm-up: imports, the client
                one_run(folder, mode, args.steps, server.base_url)
            for n in range(args.rounds):
                for mode in MODES if n % 2 == 0 else MODES[::-1]:
                    taken[mode].append(one_run(folder, mode, args.steps, server.base_url))
    finally:
        server.close()
    print(f"load average at end {load_average()}")
    print(f"{'mode':<8}{'commits/step':>13}{'FULL/step':>10}{'ms/step (min-max)':>24}"
          f"{'CPU ms/step':>20}")  # fmt: skip
    for mode in MODES:
        rows = taken[mode]
        print(
            f"{mode:<8}{spread([r['commits'] for r in rows], digits=1).split()[0]:>13}"
            f"{spread([r['full'] for r in rows], digits=1).split()[0]:>10}"
            f"{spread([r['ms'] for r in rows]):>24}{spread([r['cpu_ms'] for r in rows]):>20}"
        )
        print(f"  {mode}: {ONLOOP_DURABILITY[mode]}")
    ratios = [f["ms"] / d["ms"] for f, d in zip(taken["full"], taken["normal"], strict=True)]
    cpu = [f["cpu_ms"] / d["cpu_ms"] for f, d in zip(taken["full"], taken["normal"], strict=True)]
    print(f"ratio full / normal per round: ms {spread(ratios)}, CPU {spread(cpu)}")
    if args.rounds < MIN_ROUNDS:
        print(f"only {args.rounds} rounds: a smoke run, not figures to quote")
    return 0


if __name__ == "__main__":
    sys.exit(main())
