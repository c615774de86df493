"""Where a worker's CPU goes: one in-process Worker driving many runs against the local chat
server (at zero latency unless --latency-ms), with the process's CPU per model call, SQL
statements per model call (every statement the database driver runs, BEGIN and COMMIT included)
and, with --profile, a cProfile over every thread.

Run from the repo root: `python benchmarks/profile_worker.py [--runs 100] [--calls 5]
[--latency-ms 0] [--postgres] [--profile] [--top 40]`.

The worker runs in this process (`Worker(store).serve()` in a thread, its runs on threads of
their own), so cProfile sees them all (threading.setprofile gives each new thread a profiler of
its own; they are merged at the end). The statements are counted on the driver's connections
(tests/support/statements.py): sqlite3's trace hook, psycopg's cursor. The process warms up
first as `onloop worker` does (agent_core/worker/warmup.py: what runs load, and the worker's
garbage-collector settings).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from harness import (
    BENCH_GOAL,
    ROOT,
    ChatServer,
    bench_policy_file,
    model_name,
    throwaway_postgres,
)

sys.path.insert(0, str(ROOT))


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} (1 / 5 min), {os.cpu_count()} cores"


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc."""
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_cpu_s() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    seconds = {}
    for tid in Path("/proc/self/task").iterdir():
        try:
            seconds[names.get(int(tid.name), tid.name)] = thread_cpu_s(int(tid.name))
        except FileNotFoundError:  # a run's thread that ended meanwhile: counted as ended
            continue
    return seconds


def by_thread(before: dict[str, float], after: dict[str, float], calls: int, cpu: float) -> str:
    """The worker's CPU per model call split by thread: the long-lived ones by name, the rest
    (the runs' threads, ended by now) as what is left."""
    groups: Counter[str] = Counter()
    for name, seconds in after.items():
        if name in ("MainThread",):
            continue
        group = "run threads" if name.startswith("run-") else name
        groups[group] += seconds - before.get(name, 0.0)
    groups["run threads (ended)"] = cpu - sum(groups.values())
    return ", ".join(f"{name} {s / calls * 1000:.2f}" for name, s in groups.most_common())


def on_loop(loop, work) -> None:
    """Run `work` on an asyncio loop's own thread and wait for it."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    loop.call_soon_threadsafe(run)
    done.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--calls", type=int, default=5, help="model calls per run")
    parser.add_argument("--concurrency", type=int, default=0, help="default: --runs")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL store")
    parser.add_argument("--latency-ms", type=int, default=0, help="the server's time per call")
    parser.add_argument("--profile", action="store_true", help="cProfile over all threads")
    parser.add_argument("--top", type=int, default=40, help="with --profile: functions shown")
    parser.add_argument("--sort", default="tottime", help="with --profile: pstats sort key")
    parser.add_argument("--filter", default="", help="with --profile: only functions matching")
    parser.add_argument(
        "--callers", default="", help="with --profile: who calls the functions matching this"
    )
    parser.add_argument(
        "--callees", default="", help="with --profile: what the functions matching this call"
    )
    parser.add_argument(
        "--no-count", action="store_true", help="no statement count (its hook costs CPU too)"
    )
    parser.add_argument(
        "--shipped-policy",
        action="store_true",
        help="the shipped default policy file's rules, as throughput.py's workers run under "
        "(without: the built-in defaults, no rules)",
    )
    args = parser.parse_args(argv)
    if min(args.runs, args.calls) < 1:
        parser.error("--runs and --calls must be >= 1")
    folder = Path(tempfile.mkdtemp(prefix="onloop-profile-"))
    os.environ["ONLOOP_WORKSPACES"] = str(folder / "workspaces")
    with contextlib.ExitStack() as stack:
        if args.postgres:
            pg = stack.enter_context(throwaway_postgres())
            url = pg.url(pg.create_database())
        else:
            url = f"sqlite:///{folder}/onloop.db"
        server = stack.enter_context(ChatServer(latency_ms=args.latency_ms))
        measure(args, url, server)
    return 0


def measure(args: argparse.Namespace, url: str, server: ChatServer) -> None:
    import storage
    from agent_core.models.io_loop import io_loop
    from agent_core.models.openai_model import OpenAIModel
    from agent_core.models.settings import load_settings
    from agent_core.oversight.policy import Policy
    from agent_core.oversight.policy_file import load_policy
    from agent_core.worker.claim_loop import Worker
    from agent_core.worker.warmup import warm_up
    from tests.support.statements import StatementCounter

    store = storage.open_store(url)
    policy = Policy.model_validate({"monitors": {"final_check": False}}).model_dump(mode="json")
    if args.shipped_policy:  # its secrets rule makes every tool call look for secret files
        shipped = bench_policy_file(Path(tempfile.mkdtemp(prefix="onloop-policy-")))
        policy = load_policy(shipped).model_dump(mode="json")

    def factory(run):
        return OpenAIModel(run.model_name, api_key="k", base_url=server.base_url, max_retries=0)

    def create(count: int, calls: int) -> list[str]:
        return [
            storage.create_run(
                store,
                goal=BENCH_GOAL,
                model="openai",
                model_name=model_name(calls, args.latency_ms),
                autonomy="autonomous",
                tools=["calculator"],
                max_steps=calls + 5,
                policy=policy,
                created_by="bench",
            ).id
            for _ in range(count)
        ]

    def wait(ids: list[str]) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            statuses = storage.run_statuses(store, run_ids=ids)
            if all(s in ("succeeded", "failed", "halted", "unmet") for s in statuses.values()):
                bad = {i: s for i, s in statuses.items() if s != "succeeded"}
                if bad:
                    raise RuntimeError(f"runs did not succeed: {bad}")
                return
            time.sleep(0.05)
        raise TimeoutError("runs not finished in 600 s")

    worker = Worker(
        store, concurrency=args.concurrency or args.runs, poll_s=0.2, model_factory=factory
    )
    warm_up(Policy.model_validate(policy), load_settings())  # as `onloop worker` does (its GC)
    serving = threading.Thread(target=worker.serve, name="bench-worker", daemon=True)
    serving.start()
    wait(create(2, 2))  # imports, the client, the store's connections
    profiles: list[cProfile.Profile] = []

    def start_profiling(*_):
        sys.setprofile(None)
        profile = cProfile.Profile(time.thread_time)  # CPU, not wall: waits cost nothing
        profiles.append(profile)
        profile.enable()

    # the bench's own polls (this thread) and the halt watcher's (per 0.1 s, not per call) apart
    me = threading.get_native_id()
    counter = StatementCounter(store, skip_threads=("MainThread", "onloop-halt-watch"))
    before_requests = server.stats()["requests"]
    if args.profile:
        threading.setprofile(start_profiling)
        # The model I/O loop's thread began in the warm-up, before the hook: it is given its
        # profiler on its own thread (cProfile profiles the thread that enables it).
        on_loop(io_loop(), start_profiling)
    with counter if not args.no_count else contextlib.nullcontext():
        threads = threads_cpu_s()
        cpu, mine, tick = time.process_time(), thread_cpu_s(me), time.perf_counter()
        wait(create(args.runs, args.calls))
        wall = time.perf_counter() - tick
        # the worker's threads only: this thread creates the runs and polls their statuses
        cpu = time.process_time() - cpu - (thread_cpu_s(me) - mine)
        threads_after = threads_cpu_s()
    threading.setprofile(None)  # type: ignore[arg-type]
    if args.profile:
        on_loop(io_loop(), lambda: sys.setprofile(None))
    calls = server.stats()["requests"] - before_requests
    worker.stop.set()
    serving.join(30)
    latency = f"{args.latency_ms} ms a call" if args.latency_ms else "zero latency"
    print(f"{store.engine.dialect.name}: {args.runs} runs x {args.calls} calls, {latency}")
    print(load_average())
    print(
        f"model calls {calls}, wall {wall:.2f} s, {calls / wall:.1f} calls/s; process CPU "
        f"{cpu:.2f} s: {cpu / calls * 1000:.2f} ms per model call (the worker's threads; "
        "the bench's own thread apart)"
    )
    print(f"  ms per model call by thread: {by_thread(threads, threads_after, calls, cpu)}")
    counts: Counter[str] = counter.counts
    total = counter.total()
    print(f"SQL statements {total}: {total / calls:.1f} per model call")
    for verb, n in counts.most_common(12):
        print(f"  {n / calls:6.2f} per call  {verb}")
    if args.profile and profiles:
        text = io.StringIO()
        stats = pstats.Stats(profiles[0], stream=text)
        for profile in profiles[1:]:
            stats.add(profile)
        stats.sort_stats(args.sort).print_stats(args.filter, args.top)
        if args.callers:
            stats.print_callers(args.callers)
        if args.callees:
            stats.print_callees(args.callees)
        print(text.getvalue())
    store.dispose()


if __name__ == "__main__":
    sys.exit(main())
