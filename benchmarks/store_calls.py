"""CPU per hot-path store call on one thread: an event's append (`write_event`), a step's start
(`begin_step`, with its halt check and usage) and the halt read (`halt_pending`), on a run
claimed by a fenced worker. One thread, so no GIL hand-overs: a store change's own cost.

Run from the repo root: `python benchmarks/store_calls.py [--postgres] [--calls 1000]`
(`--postgres`: a throwaway cluster). Prints, per call, the least thread CPU of 3 rounds after
200 calls of warm-up, and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable

from harness import ROOT

sys.path.insert(0, str(ROOT))


def per_call_us(call: Callable[[], object], calls: int) -> float:
    for _ in range(200):
        call()
    rounds = []
    for _ in range(3):
        start = time.thread_time()
        for _ in range(calls):
            call()
        rounds.append((time.thread_time() - start) / calls * 1e6)
    return min(rounds)


def measure(url: str, calls: int) -> None:
    import storage
    from storage.events import write_event

    store = storage.open_store(url)
    run = storage.create_run(
        store, goal="g", model="openai", model_name="m", autonomy="autonomous", tools=[],
        max_steps=10**6, policy={}, created_by="bench",
    )  # fmt: skip
    claimed = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=600)
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    fence = storage.Fence("w", claimed.claim_epoch)
    ops = {
        "write_event": lambda: write_event(
            store, run_id=run.id, kind="judge", payload={"text": "x"}, fence=fence
        ),
        "begin_step": lambda: storage.begin_step(
            store, run_id=run.id, kind="model_call", payload={}, fence=fence, usage={"steps": 1}
        ),
        "halt_pending": lambda: storage.halt_pending(store, run_id=run.id),
    }
    one, five, _ = os.getloadavg()
    print(f"{store.engine.dialect.name}, load average {one:.2f} / {five:.2f} (1 / 5 min)")
    for name, call in ops.items():
        print(f"  {name}: {per_call_us(call, calls):.0f} us CPU per call")
    store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    os.environ["ONLOOP_WORKSPACES"] = tempfile.mkdtemp(prefix="onloop-store-calls-")
    if not args.postgres:
        measure(f"sqlite:///{tempfile.mkdtemp(prefix='onloop-store-calls-')}/x.db", args.calls)
        return 0
    from tests.support.postgres_server import start_server, stop_server

    pg, root = start_server()
    try:
        measure(pg.url(pg.create_database()), args.calls)
    finally:
        stop_server(pg, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
