"""What runs waiting for a person cost the store: queries per second while N runs of one process
wait for their approvals (the halt watcher's shared read, and whatever each run reads itself).

Run from the repo root: `python benchmarks/waiting_runs.py [--runs 50] [--seconds 3]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

from sqlalchemy import event as sa_event  # noqa: E402

import storage  # noqa: E402
from agent_core.models.scripted import ScriptedModel  # noqa: E402
from agent_core.oversight import control  # noqa: E402
from agent_core.worker.claim_loop import drive_run  # noqa: E402

WRITE = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = storage.open_store(f"sqlite:///{folder}/onloop.db")
        threads = []
        for n in range(args.runs):
            run = storage.create_run(store, goal=f"write {n}", model="scripted", policy={})
            claimed = storage.claim_next_run(store, worker_id="bench", lease_seconds=300)
            assert claimed is not None and claimed.id == run.id
            model = ScriptedModel([{"tool_calls": [WRITE]}, "done"])
            thread = threading.Thread(
                target=drive_run,
                args=(store, claimed),
                kwargs={"model_factory": lambda r, m=model: m},
            )
            thread.start()
            threads.append((run.id, thread))
        deadline = time.monotonic() + 120
        while len(storage.pending_approvals(store)) < args.runs:
            if time.monotonic() > deadline:
                raise SystemExit("the runs did not all come to wait for a person")
            time.sleep(0.1)
        time.sleep(0.5)  # every run settled into its wait
        seen: Counter[str] = Counter()

        def count(conn, cursor, statement, parameters, context, executemany) -> None:
            seen[
                "halt watcher" if threading.current_thread().name == "onloop-halt-watch" else "runs"
            ] += 1

        sa_event.listen(store.engine, "before_cursor_execute", count)
        time.sleep(args.seconds)
        sa_event.remove(store.engine, "before_cursor_execute", count)
        total = sum(seen.values())
        print(
            f"{args.runs} waiting runs: {total / args.seconds:.1f} queries/s "
            f"(halt watcher {seen['halt watcher'] / args.seconds:.1f}/s, "
            f"the runs themselves {seen['runs'] / args.seconds:.1f}/s)"
        )
        for run_id, _ in threads:
            control.halt(store, run_id=run_id, by="benchmark")
        for _, thread in threads:
            thread.join(30)


if __name__ == "__main__":
    main()
