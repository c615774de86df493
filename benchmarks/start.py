"""Fast start: how long `onloop --help` takes, and whether a fresh worker's first run starts as
fast as its later ones.

Run from the repo root: `python benchmarks/start.py [--repeat 9] [--workers 5] [--runs 6]`.
Prints the median wall time of `onloop --help`, `onloop worker --help` and `onloop policy init`
(each a fresh `python -m agent_core` process; aim < 0.5 s), then, for fresh `onloop worker`
processes each given queued demo runs (no model delay, one at a time), the median time from a
run's claim to its `run_started` event for the worker's first run and for its later runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable without installing
GOAL = "What is 17.5% of 2,340, plus 118?"  # a demo goal that needs no approval


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ONLOOP_DEMO_DELAY": "0", **extra}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL"):
        env.pop(name, None)
    return env


def wall(args: list[str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def cli_medians(repeat: int) -> dict[str, float]:
    commands = {
        "onloop --help": ["--help"],
        "onloop worker --help": ["worker", "--help"],
        "onloop policy init": ["policy", "init", "--force"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeat):  # interleaved, so no command gets a quieter moment
            for name, args in commands.items():
                times[name].append(wall(args, folder))
    return {name: statistics.median(found) for name, found in times.items()}


def claim_to_start(runs: int) -> list[float]:
    """Seconds from claim to run_started for each run of one fresh worker, in claim order."""
    import storage

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/onloop.db"
        store = storage.open_store(url)
        ids = [storage.create_run(store, goal=GOAL).id for _ in range(runs)]
        env = environment(ONLOOP_DATABASE_URL=url, ONLOOP_WORKSPACES=f"{folder}/ws")
        command = [sys.executable, "-m", "agent_core", "worker", "--concurrency", "1"]
        command += ["--poll-seconds", "0.05"]
        worker = subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                done = [storage.get_run(store, run_id=r).status for r in ids]
                if all(s == "succeeded" for s in done):
                    break
                time.sleep(0.1)
            else:
                raise SystemExit("the worker did not finish its runs in 5 minutes")
        finally:
            worker.terminate()
            worker.wait(60)
        gaps = []
        for run_id in ids:
            run = storage.get_run(store, run_id=run_id)
            started = next(
                e for e in storage.events_after(store, run_id=run_id) if e.kind == "run_started"
            )
            gaps.append((run.started_at, (started.at - run.started_at).total_seconds()))
        store.dispose()
    return [gap for _, gap in sorted(gaps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs of each CLI command")
    parser.add_argument("--workers", type=int, default=5, help="fresh workers to start")
    parser.add_argument("--runs", type=int, default=6, help="runs queued for each worker")
    options = parser.parse_args()
    for name, seconds in cli_medians(options.repeat).items():
        print(f"{name:24} median {seconds * 1000:6.0f} ms over {options.repeat} runs")
    first, later = [], []
    for _ in range(options.workers):
        gaps = claim_to_start(options.runs)
        first.append(gaps[0])
        later.extend(gaps[1:])
    one, rest = statistics.median(first), statistics.median(later)
    print(
        f"claim -> run_started: first run median {one * 1000:.0f} ms, later runs median "
        f"{rest * 1000:.0f} ms (ratio {one / rest:.1f}; {options.workers} fresh workers x "
        f"{options.runs} runs)"
    )


if __name__ == "__main__":
    main()
