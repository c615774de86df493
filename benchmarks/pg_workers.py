"""PostgreSQL workers side by side: 1, 2 and 4 `onloop worker` processes on one PostgreSQL store,
the database server on the same machine (a throwaway cluster, tests/support/postgres_server.py).

Run from the repo root: `python benchmarks/pg_workers.py [--runs 200] [--calls 5]
[--latency-ms 0] [--workers 1,2,4] [--concurrency 32] [--repeat 5] [--log auto]`.

Each round starts every worker count once (interleaved: 1, 2, 4, then again), each on a fresh
database: the workers warmed up, then `--runs` runs of `--calls` model calls against
benchmarks/chat_server.py. Per row: wall time from the first create to the last finish, model
calls/s, the workers' CPU ms per model call and the PostgreSQL server's (every postgres
process's user + system time, /proc), the load average. Medians (min-max) at the end. The
machine's cores are printed: with 2 cores, 4 workers and the database share 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from cpu_meter import cpu_s, load_average, spread
from harness import ChatServer, Tee, children_of, log_path, throwaway_postgres
from worker_rounds import interleaved, ints, one_batch, warmed_workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--calls", type=int, default=5, help="model calls per run")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--workers", type=ints, default=[1, 2, 4], help="worker processes")
    parser.add_argument("--concurrency", type=int, default=32, help="per worker")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument("--log", default="", help="also write the output here ('auto': logs/)")
    args = parser.parse_args(argv)
    if min(args.runs, args.calls, args.concurrency, args.repeat) < 1:
        parser.error("--runs, --calls, --concurrency and --repeat must be >= 1")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = log_path(f"pg_workers-{stamp}.log") if args.log == "auto" else args.log or None
    out = Tee(Path(path) if path else None)
    stack = ExitStack()
    try:
        pg = stack.enter_context(throwaway_postgres())
        server_pids = _postgres_pids(pg.data)
        with ChatServer(latency_ms=0) as chat:
            out(
                f"PostgreSQL workers: {args.runs} runs x {args.calls} calls at "
                f"{args.latency_ms:.0f} ms, --concurrency {args.concurrency} per worker, "
                f"{os.cpu_count()} cores shared by the workers, the database and the chat server"
            )
            out(
                f"{'workers':>8}{'wall s':>9}{'calls/s':>9}{'worker cpu':>11}{'db cpu':>8}{'ok':>5}  load"
            )

            def show(workers: int, one: dict) -> None:
                out(
                    f"{workers:>8}{one['wall']:>9.2f}{one['calls'] / one['wall']:>9.1f}"
                    f"{one['cpu_ms']:>11.2f}{one['db_ms']:>8.2f}{one['ok']:>5}  {load_average()}"
                )

            got = interleaved(
                args.repeat, args.workers, lambda n: _one(args, pg, chat, n, server_pids), show
            )
            out("medians (min-max): calls/s; CPU ms per model call of the workers, of the database")
            base = None
            for workers, rows in got.items():
                rates = [r["calls"] / r["wall"] for r in rows]
                median_rate = sorted(rates)[len(rates) // 2]
                base = base or median_rate
                out(
                    f"  {workers} workers: {spread(rates, 1)} calls/s ({median_rate / base:.2f}x "
                    f"{args.workers[0]}); workers {spread([r['cpu_ms'] for r in rows])} ms; "
                    f"database {spread([r['db_ms'] for r in rows])} ms"
                )
    except (RuntimeError, TimeoutError) as exc:
        out(f"pg_workers.py: {exc}")
        return 1
    finally:
        stack.close()
        out.close()
    return 0


def _postgres_pids(data: Path):
    """A function giving the cluster's processes now (the postmaster and its backends)."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    return lambda: [postmaster, *children_of(postmaster)]


def _one(args, pg, chat: ChatServer, workers: int, server_pids) -> dict:
    db_url = pg.url(pg.create_database())
    with warmed_workers(chat.base_url, workers, args.concurrency, db_url=db_url) as bench:
        # backends come and go with connections: the CPU of those alive before and after
        before = {pid: cpu_s([pid]) for pid in server_pids()}
        one = one_batch(bench, chat, args.runs, args.calls, args.latency_ms)
        after = {pid: cpu_s([pid]) for pid in server_pids()}
    used = sum(after[p] - before.get(p, 0.0) for p in after)
    one["db_ms"] = used / one["calls"] * 1000 if one["calls"] else float("nan")
    return one


if __name__ == "__main__":
    sys.exit(main())
