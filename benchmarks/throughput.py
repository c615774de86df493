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
import asyncio
import math
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from cpu_meter import cpu_s, load_average, spread
from harness import (
    BENCH_EXTRA_HINT,
    ROOT,
    ChatServer,
    Tee,
    child_env,
    log_path,
    onloop_bench,
    proc_status,
    seconds,
    utc_now,
)


def ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,2 (got {text!r})") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers like 1,2 (got {text!r})")
    return values


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


def one_batch(bench, server: ChatServer, runs: int, calls: int, latency_ms: float) -> dict:
    """Create the runs, wait for them all; wall time from before the first create."""
    before = server.stats()["requests"]
    pids = bench.worker_pids()
    cpu = cpu_s(pids)
    started = utc_now()
    tick = time.perf_counter()
    ids = bench.create_runs(runs, calls, latency_ms)
    created_s = time.perf_counter() - tick
    bench.wait(ids, timeout_s=max(600.0, runs * calls * latency_ms / 1000))
    times = [bench.times(i) for i in ids]
    ended = max(t.finished for t in times if t.finished)
    wall = seconds(ended, started)
    cpu = cpu_s(pids) - cpu  # the workers' processes only (the bench creates the runs)
    made = server.stats()["requests"] - before
    ok = sum(1 for t in times if t.status == "succeeded")
    cpu_ms = cpu / made * 1000 if made else float("nan")
    return {"wall": wall, "calls": made, "ok": ok, "created_s": created_s, "cpu_ms": cpu_ms}


def _db_urls(args: argparse.Namespace, stack: ExitStack) -> list[tuple[str, object]]:
    """("sqlite", None) and, with --postgres, ("postgres", a function making a fresh URL)."""
    urls: list[tuple[str, object]] = [("sqlite", None)]
    if args.postgres:
        sys.path.insert(0, str(ROOT))
        from tests.support.postgres_server import (
            INSTALL_HINT,
            server_binaries,
            start_server,
            stop_server,
        )

        if server_binaries() is None:
            raise SystemExit(f"--postgres: {INSTALL_HINT}")
        pg, root = start_server()
        stack.callback(stop_server, pg, root)
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
    got: dict[tuple, list[dict]] = {}
    with ExitStack() as stack:
        configs = [
            (store_name, make_url, processes, concurrency)
            for store_name, make_url in _db_urls(args, stack)
            for processes in args.processes
            for concurrency in args.concurrency
        ]
        for _round in range(args.repeat):
            for store_name, make_url, processes, concurrency in configs:
                url = make_url() if callable(make_url) else None
                with onloop_bench(server.base_url, db_url=url) as bench:
                    bench.start_workers(processes, concurrency, processes_flag=args.processes_flag)
                    bench.wait_idle_ready(runs=2 * processes)
                    one = one_batch(bench, server, args.runs, args.calls, args.latency_ms)
                got.setdefault((store_name, processes, concurrency), []).append(one)
                # "x slots": against the ideal of this many slots (runs in waves of slots)
                waves = math.ceil(args.runs / (processes * concurrency))
                out(
                    f"{store_name:<9}{processes:>6}{concurrency:>10}{one['wall']:>9.2f}"
                    f"{one['wall'] / ideal:>9.2f}{one['wall'] / (waves * ideal):>9.2f}"
                    f"{one['calls'] / one['wall']:>9.1f}{one['cpu_ms']:>8.2f}"
                    f"{one['ok']:>5}{one['created_s']:>10.2f}  {load_average()}"
                )
            if "peers" not in args.skip_set:
                wall = bare_batch(args, server)
                got.setdefault(("bare asyncio",), []).append({"wall": wall})
                out(
                    f"{'bare asyncio openai, no store':<34}{wall:>9.2f}{wall / ideal:>9.2f}  {load_average()}"
                )
    out("medians (min-max) of x ideal, and of the workers' CPU ms per model call:")
    for key, rows in got.items():
        walls = [r["wall"] / ideal for r in rows]
        cpu = [r["cpu_ms"] for r in rows if "cpu_ms" in r]
        name = " ".join(str(k) for k in key)
        tail = f"  cpu ms/call {spread(cpu)}" if cpu else ""
        out(f"  {name:<28} x ideal {spread(walls)}{tail}")


def bare_batch(args: argparse.Namespace, server: ChatServer) -> float:
    """The bare `openai.AsyncOpenAI` loop (no store), `--runs` conversations at once: wall s."""
    import frameworks
    from harness import model_name

    async def go() -> float:
        warm, warm_close = frameworks.bare_async(server.base_url, model_name(args.calls, 0))
        await warm()
        await warm_close()
        converse, close = frameworks.bare_async(
            server.base_url, model_name(args.calls, args.latency_ms)
        )
        tick = time.perf_counter()
        await asyncio.gather(*(converse() for _ in range(args.runs)))
        wall = time.perf_counter() - tick
        await close()
        return wall

    return asyncio.run(go())


def zero_latency(args: argparse.Namespace, server: ChatServer, out: Tee) -> None:
    out("")
    out(
        f"onloop, whole machine: {args.zero_runs} runs x {args.calls} calls, zero latency, "
        f"--concurrency {args.zero_concurrency} per process, {args.repeat} interleaved rounds"
    )
    out(f"{'procs':>6}{'wall s':>9}{'calls/s':>9}{'cpu ms':>8}{'ok':>5}{'create s':>10}  load")
    got: dict[int, list[dict]] = {}
    for _round in range(args.repeat):
        for processes in args.processes:
            with onloop_bench(server.base_url) as bench:
                bench.start_workers(
                    processes, args.zero_concurrency, processes_flag=args.processes_flag
                )
                bench.wait_idle_ready(runs=2 * processes)
                one = one_batch(bench, server, args.zero_runs, args.calls, 0)
            got.setdefault(processes, []).append(one)
            out(
                f"{processes:>6}{one['wall']:>9.2f}{one['calls'] / one['wall']:>9.1f}"
                f"{one['cpu_ms']:>8.2f}{one['ok']:>5}{one['created_s']:>10.2f}  {load_average()}"
            )
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
    with onloop_bench(server.base_url) as bench:
        bench.start_workers(1, runs)
        bench.wait_idle_ready(runs=2)
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


def peers(args: argparse.Namespace, server: ChatServer, out: Tee) -> None:
    import frameworks
    from harness import model_name

    ideal = args.calls * args.latency_ms / 1000
    model = model_name(args.calls, args.latency_ms)
    warm = model_name(args.calls, 0)
    out("")
    out(
        f"peers (asyncio, {args.runs} at once): {args.runs} runs x {args.calls} calls at {args.latency_ms:.0f} ms"
    )
    out(f"{'peer':<26}{'wall s':>9}{'x ideal':>9}{'calls/s':>9}")

    async def batch(make) -> tuple[float, int]:
        warm_converse, warm_close = await make(warm)
        await warm_converse()  # imports, the first connection, the database's tables
        await warm_close()
        converse, close = await make(model)
        before = server.stats()["requests"]
        started = time.perf_counter()
        await asyncio.gather(*(converse() for _ in range(args.runs)))
        wall = time.perf_counter() - started
        made = server.stats()["requests"] - before
        await close()
        if made != args.runs * args.calls:
            raise RuntimeError(f"{made} model calls, not {args.runs} x {args.calls}")
        return wall, made

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        async def bare(name: str):
            return frameworks.bare_async(server.base_url, name)

        async def langgraph(name: str):
            return await frameworks.langgraph_async(server.base_url, name, folder / f"lg-{name}.db")

        async def agents(name: str):
            return frameworks.agents_async(server.base_url, name, folder / "agents.db")

        table = [
            ("bare openai (asyncio)", "bare", bare),
            ("LangGraph+AsyncSqliteSaver", "langgraph", langgraph),
        ]
        table.append(("Agents SDK+SQLiteSession", "agents", agents))

        async def every_peer() -> None:  # one event loop: some peers share a client across calls
            for label, key, make in table:
                if key != "bare" and not frameworks.available(key):
                    out(f"{label:<26} skipped, {BENCH_EXTRA_HINT}")
                    continue
                wall, made = await batch(make)
                out(f"{label:<26}{wall:>9.2f}{wall / ideal:>9.2f}{made / wall:>9.1f}")

        asyncio.run(every_peer())


if __name__ == "__main__":
    sys.exit(main())
