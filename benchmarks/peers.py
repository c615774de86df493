"""Per step, side by side: the same tool-calling conversation through bare openai, onloop,
LangGraph and the OpenAI Agents SDK, against one local zero-latency chat server.

Run from the repo root: `python benchmarks/peers.py [--steps 20] [--reps 15] [--quick]`
(the peers need `pip install -e '.[bench]'`; a peer that is not installed is skipped, saying so).

Every repetition (a round) runs one conversation per stack, in an order rotated each round
(interleaved, ABCD BCDA ..., so a noisy moment hits all of them); the first `--warmup` rounds are
dropped. A conversation is `--steps` model calls: steps-1 calculator calls, then the final answer.

- bare: the sync `openai` client in a plain loop, a dict dispatch, nothing stored.
- onloop: a run in a SQLite store driven by one `python -m agent_core worker --concurrency 1`
  (started and warmed up before timing), at onloop's default durability (an fsync for each tool
  start, decision and halt); its time is the store's own, from the claim (Run.started_at) to
  the end (Run.finished_at), so process start-up and the worker's queue poll are not counted.
- onloop-full: the same with `ONLOOP_SQLITE_SYNCHRONOUS=full`, an fsync for every commit: the
  durability the peers run at.
- langgraph: `create_react_agent` + `SqliteSaver` (a SQLite file), a fresh thread per run.
- agents: `Runner.run` + `SQLiteSession` (a SQLite file), a fresh session per run.

Prints the date, cores, load average at start and end and the databases' file system; each
stack's durability (the peers' read back from their own connections); per stack the median ms
per step with its spread (min-max over rounds) and the median CPU ms per step (the worker
process for onloop, this process for the others; the chat server's apart: CPU is less noisy
than wall time on a shared machine); and the ratios onloop / peer of each round, median and
spread, at equal durability first. With `--log`, writes it too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from fairness import MIN_ROUNDS, ONLOOP_DURABILITY, header, load_average, process_cpu_s, spread
from harness import BENCH_EXTRA_HINT, ChatServer, Tee, log_path, model_name, onloop_bench, seconds

FRAMEWORKS = ("bare", "onloop", "onloop-full", "langgraph", "agents")
ONLOOPS = {"onloop": "normal", "onloop-full": "full"}
LABELS = {
    "bare": "bare openai (no store)",
    "onloop": "onloop (claim->end)",
    "onloop-full": "onloop FULL (claim->end)",
    "langgraph": "LangGraph+SqliteSaver",
    "agents": "Agents SDK+SQLiteSess.",
}
# (ours, theirs, what the comparison is): equal durability first.
RATIOS = (
    ("onloop-full", "langgraph", "equal durability, FULL every commit"),
    ("onloop-full", "agents", "equal durability, FULL every commit"),
    ("onloop", "langgraph", "onloop default: fewer fsyncs, NOT equal durability"),
    ("onloop", "agents", "onloop default: fewer fsyncs, NOT equal durability"),
    ("onloop-full", "onloop", "the cost of FULL for every commit"),
    ("onloop", "bare", "no store in bare"),
)
Sample = tuple[float, float]  # (seconds, CPU seconds) of one conversation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="model calls per conversation")
    parser.add_argument("--reps", type=int, default=15, help="timed rounds (>= 5 to quote)")
    parser.add_argument("--warmup", type=int, default=2, help="rounds dropped first")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="5 steps, 5 rounds, 1 warm-up")
    parser.add_argument("--log", default="", help="also write the output here ('auto': logs/)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.reps, args.warmup = 5, MIN_ROUNDS, 1
    chosen = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FRAMEWORKS))
    if unknown or args.steps < 2 or args.reps < 1 or args.warmup < 0:
        parser.error(
            f"--frameworks takes {','.join(FRAMEWORKS)} (got {unknown}); --steps >= 2, --reps >= 1"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Tee(
        log_path(f"peers-{stamp}.log")
        if args.log == "auto"
        else (Path(args.log) if args.log else None)
    )
    try:
        return bench(args, chosen, out)
    except (RuntimeError, TimeoutError) as exc:  # a run or a worker failed: say what, no trace
        out(f"peers.py: {exc}")
        return 1
    finally:
        out.close()


def bench(args: argparse.Namespace, chosen: list[str], out: Tee) -> int:
    import frameworks

    for peer in frameworks.PEERS:
        if peer in chosen and not frameworks.available(peer):
            out(f"{peer}: skipped, {BENCH_EXTRA_HINT}")
            chosen.remove(peer)
    samples: dict[str, list[Sample]] = {name: [] for name in chosen}
    durability: dict[str, str] = {"bare": "no store"}
    with (
        ChatServer(latency_ms=0) as server,
        tempfile.TemporaryDirectory() as tmp,
        ExitStack() as stack,
    ):
        folder = Path(tmp)
        out(header(folder))
        out(
            f"peers: {args.steps} steps per conversation, {args.reps} rounds (+{args.warmup} "
            f"warm-up), interleaved (order rotated each round); zero-latency chat server"
        )
        converse = start(args, chosen, server.base_url, folder, stack, durability)
        order = [name for name in chosen if name in converse]
        for rep in range(args.warmup + args.reps):
            shift = rep % len(order)
            for name in order[shift:] + order[:shift]:
                before = server.stats()["requests"]
                took, cpu, calls = converse[name]()
                made = server.stats()["requests"] - before
                if made != args.steps or calls != args.steps:
                    raise RuntimeError(
                        f"{name} made {made} model calls ({calls} by its own count), not {args.steps}"
                    )
                if rep >= args.warmup:
                    samples[name].append((took, cpu))
    out(f"load average at end {load_average()}")
    out("durability:")
    for name in order:
        out(f"  {name:<12}{durability[name]}")
    report(args.steps, samples, out)
    if args.reps < MIN_ROUNDS:
        out(f"only {args.reps} rounds: a smoke run, not figures to quote (use >= {MIN_ROUNDS})")
    return 0


def start(
    args: argparse.Namespace,
    chosen: list[str],
    url: str,
    folder: Path,
    stack: ExitStack,
    durability: dict[str, str],
) -> dict[str, Callable[[], tuple[float, float, int]]]:
    """Each stack set up and warmed up: name -> one conversation (seconds, CPU s, calls)."""
    import frameworks

    model = model_name(args.steps, 0)
    converse: dict[str, Callable[[], tuple[float, float, int]]] = {}

    def in_process(run: Callable[[], int]) -> Callable[[], tuple[float, float, int]]:
        def timed() -> tuple[float, float, int]:
            cpu, started = time.process_time(), time.perf_counter()
            calls = run()
            return time.perf_counter() - started, time.process_time() - cpu, calls

        return timed

    if "bare" in chosen:
        converse["bare"] = in_process(frameworks.bare_sync(url, model))
    if "langgraph" in chosen:
        run, durability["langgraph"] = frameworks.langgraph_sync(url, model, folder / "lg.db")
        converse["langgraph"] = in_process(run)
    if "agents" in chosen:
        run, close, durability["agents"] = frameworks.agents_sync(url, model, folder / "ag.db")
        stack.callback(close)
        converse["agents"] = in_process(run)
    for name, synchronous in ONLOOPS.items():
        if name in chosen:
            onloop = stack.enter_context(
                onloop_bench(url, folder=folder / name, synchronous=synchronous)
            )
            onloop.start_workers(processes=1, concurrency=1)
            onloop.wait_idle_ready(steps=2)
            durability[name] = ONLOOP_DURABILITY[synchronous]
            converse[name] = onloop_conversation(onloop, args.steps)
    return converse


def onloop_conversation(onloop, steps: int) -> Callable[[], tuple[float, float, int]]:
    def once() -> tuple[float, float, int]:
        pids = onloop.worker_pids()
        cpu = process_cpu_s(pids)
        run_id = onloop.create_runs(1, steps)[0]
        onloop.wait([run_id], timeout_s=300, poll_s=0.02)
        used = process_cpu_s(pids) - cpu  # the worker's, while it drove this run
        times = onloop.times(run_id)
        if times.status != "succeeded":
            raise RuntimeError(f"onloop run {run_id} ended {times.status}: {onloop.why(times)}")
        return seconds(times.finished, times.claimed), used, steps

    return once


def report(steps: int, samples: dict[str, list[Sample]], out: Tee) -> None:
    per_step = 1000 / steps
    out(f"{'stack':<26}{'ms per step, median (min-max)':>32}{'CPU ms/step':>13}{'rounds':>8}")
    for name, taken in samples.items():
        if taken:
            wall = spread([t for t, _ in taken], per_step)
            cpu = spread([c for _, c in taken], per_step).split(" ")[0]
            out(f"{LABELS[name]:<26}{wall:>32}{cpu:>13}{len(taken):>8}")
    for ours, theirs, what in RATIOS:
        if samples.get(ours) and samples.get(theirs):
            pairs = [a / b for (a, _), (b, _) in zip(samples[ours], samples[theirs], strict=True)]
            out(f"ratio {ours} / {theirs}: {spread(pairs)} per round ({what})")


if __name__ == "__main__":
    sys.exit(main())
