"""Throughput: many runs at once through onloop's workers and through the peers, and the memory
each waiting run costs.

Run from the repo root: `python benchmarks/throughput.py [--quick] [--postgres] [--log auto]`.

1. onloop at latency: `--runs` runs (100) of `--calls` model calls (5) each, the chat server
   holding every reply `--latency-ms` (500), so the ideal wall time is calls x latency (2.5 s).
   For each process count (`--processes 1,2`: that many `python -m agent_core worker` processes on
   one store; `--processes-flag` starts one `worker --processes N` instead) and each concurrency
   per process (`--concurrency 10,32,100`): a fresh store, the workers started and warmed up (one
   short run each), then the runs are created and the clock runs until the last one finished
   (Run.finished_at). Prints wall time, wall / ideal, wall / the ideal of that many slots ("x
   slots": 100 runs on 10 slots take 10 waves, 25 s), model calls/s, the workers' CPU ms per
   model call (user + system time of the worker processes, /proc: robust to a shared machine,
   where wall time is not), the seconds the bench itself spent creating the runs (inside the wall
   time: a user's runs arrive that way too) and the load average. Every configuration runs
   `--repeat` (5) times, interleaved round by round with the bare asyncio loop below doing the
   same runs (unless `--skip peers`); medians (min-max) at the end.
   `--postgres` repeats it on a throwaway PostgreSQL cluster (tests/support/postgres_server.py).
2. The whole machine: the same at zero latency (`--zero-runs` runs; `--zero-concurrency`), model
   calls/s for each process count.
3. Memory per waiting run: one worker at `--concurrency` = `--memory-runs`, warmed up and idle
   (VmRSS read from /proc), then `--memory-runs` runs all waiting on a reply held
   `--memory-latency-ms` (20 s): (RSS waiting - RSS idle) / runs, and the worker's threads.
4. The peers, asyncio in this process, `--runs` conversations at once, same calls and latency: a
   bare `openai.AsyncOpenAI` loop (no store), LangGraph `create_react_agent` + `AsyncSqliteSaver`,
   the Agents SDK `Runner.run` + `SQLiteSession` (needs `pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from cpu_meter import load_average, spread
from harness import ChatServer, Tee, child_env, log_path, proc_status, throwaway_postgres
from throughput_peers import bare_batch, peers
from worker_rounds import interleaved, ints, one_batch, warmed_workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--calls", type=int, default=5, help="model calls per run")
    parser.add_argument("--latency-ms", type=float, default=500.0)
    parser.add_argument("--concurrency", type=ints, default=[10, 32, 100], help="per process")
    parser.add_argument("--processes", type=ints, default=[1, 2])
    parser.add_argument(
        "--processes-flag", action="store_true", help="one `worker --processes N`, not N workers"
    )
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--zero-runs", type=int, default=200)
    parser.add_argument("--zero-concurrency", type=int, default=32)
    parser.add_argument("--memory-runs", type=int, default=100)
    parser.add_argument("--memory-latency-ms", type=float, default=20_000.0)
    parser.add_argument(
        "--skip", default="", help="comma-separated: latency,zero,memory,peers (sections to skip)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (medians)")
    parser.add_argument("--quick", action="store_true", help="a small configuration")
    parser.add_argument("--log", default="", help="also write the output here ('auto': logs/)")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.calls, args.latency_ms = 20, 3, 200.0
        args.concurrency, args.processes = [5, 20], [1, 2]
        args.zero_runs, args.zero_concurrency = 40, 10
        args.memory_runs, args.memory_latency_ms = 20, 10_000.0
    if min(args.runs, args.calls, args.zero_runs, args.zero_concurrency, args.memory_runs) < 1:
        parser.error("--runs, --calls, --zero-runs, --zero-concurrency, --memory-runs must be >= 1")
    skip = args.skip_set = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - {"latency", "zero", "memory", "peers"}
    if unknown:
        parser.error(f"--skip takes latency,zero,memory,peers (got {sorted(unknown)})")
    if args.processes_flag and not worker_has_processes_flag():
        parser.error(
            "--processes-flag: this onloop's `worker` has no --processes option; leave the flag "
            "out to start N worker processes instead"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = log_path(f"throughput-{stamp}.log") if args.log == "auto" else args.log or None
    out = Tee(Path(path) if path else None)
    try:
        with ChatServer(latency_ms=0) as server:
            out(
                f"throughput: {args.runs} runs x {args.calls} model calls at {args.latency_ms:.0f} ms"
                f" (ideal {args.calls * args.latency_ms / 1000:.2f} s); chat server {server.base_url}"
            )
            if "latency" not in skip:
                latency_table(args, server, out)
            if "zero" not in skip:
                zero_latency(args, server, out)
            if "memory" not in skip:
                memory(args, server, out)
            if "peers" not in skip:
                peers(args, server, out)
    except (RuntimeError, TimeoutError) as exc:  # a run or a worker failed: say what, no trace
        out(f"throughput.py: {exc}")
        return 1
    finally:
        out.close()
    return 0


def worker_has_processes_flag() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "worker", "--help"],
        capture_output=True,
        text=True,
        env=child_env(COLUMNS="200"),
        timeout=120,
    )
    return "--processes" in done.stdout


BARE = ("bare asyncio",)  # the bare asyncio loop's row among the configurations


def _db_urls(args: argparse.Namespace, stack: ExitStack) -> list[tuple[str, object]]:
    """("sqlite", None) and, with --postgres, ("postgres", a function making a fresh URL)."""
    urls: list[tuple[str, object]] = [("sqlite", None)]
    if args.postgres:
        pg = stack.enter_context(throwaway_postgres())
        urls.append(("postgres", lambda: pg.url(pg.create_database())))
    return urls


def latency_table(args: argparse.Namespace, server: ChatServer, out: Tee) -> None:
    """Every configuration `--repeat` times, interleaved (a round of each, then the next round),
    with the bare asyncio loop doing the same runs in each round; medians at the end."""
    ideal = args.calls * args.latency_ms / 1000
    out("")
    out(
        f"onloop: {args.runs} runs x {args.calls} calls at {args.latency_ms:.0f} ms, ideal {ideal:.2f} s,"
        f" {args.repeat} interleaved rounds; cpu = the workers' CPU ms per model call"
    )
    head = f"{'store':<9}{'procs':>6}{'conc/proc':>10}{'wall s':>9}{'x ideal':>9}{'x slots':>9}{'calls/s':>9}{'cpu ms':>8}{'ok':>5}{'create s':>10}  load"
    out(head)
    with ExitStack() as stack:
        urls = dict(_db_urls(args, stack))
        keys: list[tuple] = [
            (store_name, processes, concurrency)
            for store_name in urls
            for processes in args.processes
            for concurrency in args.concurrency
        ]
        if "peers" not in args.skip_set:
            keys.append(BARE)  # last in every round

        def measure(key: tuple) -> dict:
            if key == BARE:
                return {"wall": bare_batch(args, server)}
            store_name, processes, concurrency = key
            make_url = urls[store_name]
            url = make_url() if callable(make_url) else None
            with warmed_workers(
                server.base_url,
                processes,
                concurrency,
                db_url=url,
                processes_flag=args.processes_flag,
            ) as bench:
                return one_batch(bench, server, args.runs, args.calls, args.latency_ms)

        def show(key: tuple, one: dict) -> None:
            out(_latency_line(args, key, one))

        got = interleaved(args.repeat, keys, measure, show)
    out("medians (min-max) of x ideal, and of the workers' CPU ms per model call:")
    for key, rows in got.items():
        walls = [r["wall"] / ideal for r in rows]
        cpu = [r["cpu_ms"] for r in rows if "cpu_ms" in r]
        name = " ".join(str(k) for k in key)
        tail = f"  cpu ms/call {spread(cpu)}" if cpu else ""
        out(f"  {name:<28} x ideal {spread(walls)}{tail}")


def _latency_line(args: argparse.Namespace, key: tuple, one: dict) -> str:
    ideal = args.calls * args.latency_ms / 1000
    if key == BARE:
        wall = one["wall"]
        return f"{'bare asyncio openai, no store':<34}{wall:>9.2f}{wall / ideal:>9.2f}  {load_average()}"
    store_name, processes, concurrency = key
    # "x slots": against the ideal of this many slots (runs in waves of slots)
    waves = math.ceil(args.runs / (processes * concurrency))
    return (
        f"{store_name:<9}{processes:>6}{concurrency:>10}{one['wall']:>9.2f}"
        f"{one['wall'] / ideal:>9.2f}{one['wall'] / (waves * ideal):>9.2f}"
        f"{one['calls'] / one['wall']:>9.1f}{one['cpu_ms']:>8.2f}"
        f"{one['ok']:>5}{one['created_s']:>10.2f}  {load_average()}"
    )


def zero_latency(args: argparse.Namespace, server: ChatServer, out: Tee) -> None:
    out("")
    out(
        f"onloop, whole machine: {args.zero_runs} runs x {args.calls} calls, zero latency, "
        f"--concurrency {args.zero_concurrency} per process, {args.repeat} interleaved rounds"
    )
    out(f"{'procs':>6}{'wall s':>9}{'calls/s':>9}{'cpu ms':>8}{'ok':>5}{'create s':>10}  load")

    def measure(processes: int) -> dict:
        with warmed_workers(
            server.base_url,
            processes,
            args.zero_concurrency,
            processes_flag=args.processes_flag,
        ) as bench:
            return one_batch(bench, server, args.zero_runs, args.calls, 0)

    def show(processes: int, one: dict) -> None:
        out(
            f"{processes:>6}{one['wall']:>9.2f}{one['calls'] / one['wall']:>9.1f}"
            f"{one['cpu_ms']:>8.2f}{one['ok']:>5}{one['created_s']:>10.2f}  {load_average()}"
        )

    got = interleaved(args.repeat, args.processes, measure, show)
    out("medians (min-max): model calls/s, the workers' CPU ms per model call")
    for processes, rows in got.items():
        rates = [r["calls"] / r["wall"] for r in rows]
        out(
            f"  {processes} procs: {spread(rates, 1)} calls/s, {spread([r['cpu_ms'] for r in rows])} ms"
        )


def _rss_threads(pids: list[int]) -> tuple[int, int]:
    readings = [proc_status(pid) for pid in pids]
    return sum(r["VmRSS"] for r in readings), sum(r["Threads"] for r in readings)


def memory(args: argparse.Namespace, server: ChatServer, out: Tee) -> None:
    runs = args.memory_runs
    out("")
    out(
        f"onloop memory: 1 worker --concurrency {runs}, {runs} runs waiting {args.memory_latency_ms:.0f} ms"
    )
    with warmed_workers(server.base_url, 1, runs) as bench:
        time.sleep(1.0)
        idle_kb, idle_threads = _rss_threads(bench.worker_pids())
        before = server.stats()["inflight"]
        # long conversations: every run keeps calling the model until the workers stop
        bench.create_runs(runs, 1000, args.memory_latency_ms)
        deadline = time.monotonic() + max(60.0, args.memory_latency_ms / 1000 - 2)
        while server.stats()["inflight"] - before < runs:
            bench.check_workers()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"only {server.stats()['inflight'] - before} of {runs} runs reached the model in time"
                )
            time.sleep(0.1)
        time.sleep(0.5)  # whatever the worker does right after sending settles
        busy_kb, busy_threads = _rss_threads(bench.worker_pids())
    per_run = (busy_kb - idle_kb) / runs / 1024
    out(
        f"RSS idle {idle_kb / 1024:.1f} MB, {runs} waiting {busy_kb / 1024:.1f} MB: {per_run:.3f} MB per waiting run"
    )
    out(f"threads idle {idle_threads}, {runs} waiting {busy_threads}")


if __name__ == "__main__":
    sys.exit(main())
