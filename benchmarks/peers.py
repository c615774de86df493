"""Per step, side by side: the same tool-calling conversation through bare openai, onloop,
LangGraph and the OpenAI Agents SDK, against one local zero-latency chat server.

Run from the repo root: `python benchmarks/peers.py [--steps 20] [--reps 15] [--quick]`
(the peers need `pip install -e '.[bench]'`; a peer that is not installed is skipped, saying so).

Every repetition runs one conversation per framework, in an order rotated each repetition
(interleaved, so a noisy moment hits all of them); the first `--warmup` repetitions are dropped.
A conversation is `--steps` model calls: steps-1 calculator calls, then the final answer.

- bare: the sync `openai` client in a plain loop, a dict dispatch, nothing stored.
- onloop: a run in a SQLite store driven by one `python -m agent_core worker --concurrency 1`
  (started and warmed up before timing); its time is the store's own, from the claim
  (Run.started_at) to the end (Run.finished_at), so process start-up and the worker's queue poll
  are not counted; "onloop loop" is run_started -> final_answer, the loop alone.
- langgraph: `create_react_agent` + `SqliteSaver` (a SQLite file), a fresh thread per run.
- agents: `Runner.run` + `SQLiteSession` (a SQLite file), a fresh session per run.

Prints the median ms per step of each and the ratios onloop / peer; with `--log`, writes it too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import (
    BENCH_EXTRA_HINT,
    ChatServer,
    Tee,
    log_path,
    median,
    model_name,
    onloop_bench,
    seconds,
)

FRAMEWORKS = ("bare", "onloop", "langgraph", "agents")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="model calls per conversation")
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions per framework")
    parser.add_argument("--warmup", type=int, default=2, help="repetitions dropped first")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="5 steps, 3 repetitions, 1 warm-up")
    parser.add_argument("--log", default="", help="also write the output here ('auto': logs/)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.reps, args.warmup = 5, 3, 1
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
    out(
        f"peers: {args.steps} steps per conversation, {args.reps} repetitions (+{args.warmup} "
        f"warm-up), interleaved; zero-latency chat server; {', '.join(chosen)}"
    )
    model = model_name(args.steps, 0)
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    loop_samples: list[float] = []
    with ChatServer(latency_ms=0) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = server.base_url
        converse: dict[str, Callable[[], int]] = {}
        closers: list[Callable[[], None]] = []
        if "bare" in chosen:
            converse["bare"] = frameworks.bare_sync(url, model)
        if "langgraph" in chosen:
            converse["langgraph"] = frameworks.langgraph_sync(url, model, folder / "langgraph.db")
        if "agents" in chosen:
            run, close = frameworks.agents_sync(url, model, folder / "agents.db")
            converse["agents"] = run
            closers.append(close)
        with (
            onloop_bench(url, folder=folder / "onloop") if "onloop" in chosen else _null() as onloop
        ):
            if onloop is not None:
                onloop.start_workers(processes=1, concurrency=1)
                onloop.wait_idle_ready(steps=2)

                last: dict[str, float] = {}

                def onloop_once() -> int:
                    run_id = onloop.create_runs(1, args.steps)[0]
                    onloop.wait([run_id], timeout_s=300, poll_s=0.02)
                    times = onloop.times(run_id)
                    if times.status != "succeeded":
                        raise RuntimeError(
                            f"onloop run {run_id} ended {times.status}: {onloop.why(times)}"
                        )
                    last["run_s"] = seconds(times.finished, times.claimed)
                    loop_samples.append(seconds(times.loop_ended, times.loop_started))
                    return args.steps

                converse["onloop"] = onloop_once
            order = [name for name in chosen if name in converse]
            for rep in range(args.warmup + args.reps):
                shift = rep % len(order)
                for name in order[shift:] + order[:shift]:
                    before = server.stats()["requests"]
                    started = time.perf_counter()
                    calls = converse[name]()
                    took = time.perf_counter() - started
                    made = server.stats()["requests"] - before
                    if made != args.steps or calls != args.steps:
                        raise RuntimeError(
                            f"{name} made {made} model calls ({calls} by its own count), not {args.steps}"
                        )
                    if name == "onloop":
                        took = last["run_s"]
                    if rep >= args.warmup:
                        samples[name].append(took)
                    elif name == "onloop":
                        loop_samples.clear()
        for close in closers:
            close()
    report(args.steps, samples, loop_samples, out)
    return 0


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def report(
    steps: int, samples: dict[str, list[float]], loop_samples: list[float], out: Tee
) -> None:
    per_step = {name: median(s) / steps * 1000 for name, s in samples.items() if s}
    out(f"{'framework':<22}{'ms per step (median)':>22}{'runs':>6}")
    labels = {
        "bare": "bare openai (no store)",
        "onloop": "onloop (claim->end)",
        "langgraph": "LangGraph+SqliteSaver",
        "agents": "Agents SDK+SQLiteSess.",
    }
    for name, ms in per_step.items():
        out(f"{labels[name]:<22}{ms:>22.2f}{len(samples[name]):>6}")
        if name == "onloop" and loop_samples:
            out(
                f"{'  onloop loop only':<22}{median(loop_samples) / steps * 1000:>22.2f}{len(loop_samples):>6}"
            )
    if "onloop" in per_step:
        for name in ("bare", "langgraph", "agents"):
            if name in per_step:
                out(f"ratio onloop / {name}: {per_step['onloop'] / per_step[name]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
