"""Fast start: how long `onloop --help` takes, and whether a fresh worker's first run starts as
fast as its later ones.

Run from the repo root: `python benchmarks/start.py [--repeat 9] [--workers 5] [--runs 6]`.
Prints the median wall time of `onloop --help`, `onloop worker --help` and `onloop policy init`
(each a fresh `python -m agent_core` process; aim < 0.5 s), then, for fresh `onloop worker`
processes each given queued runs (one at a time), the median time from a run's claim to its
`run_started` event for the worker's first run and for its later runs: with the demo model
(no delay) and with the openai model against a local zero-latency Chat Completions server
(tests/support/fake_openai.py), each with the worker's warm-up and without it (ONLOOP_WARM_UP=0),
interleaved.
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


def claim_to_start(runs: int, model: str, warm: bool) -> list[float]:
    """Seconds from claim to run_started for each run of one fresh worker, in claim order."""
    import storage
    from tests.support.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer().start()
    server.script(["The answer is 527.5."] * runs * 3)  # an answer, then the goal check's
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/onloop.db"
        store = storage.open_store(url)
        names = {"model": model, "model_name": "gpt-4o-mini" if model == "openai" else "demo"}
        ids = [storage.create_run(store, goal=GOAL, **names).id for _ in range(runs)]
        env = environment(ONLOOP_DATABASE_URL=url, ONLOOP_WORKSPACES=f"{folder}/ws")
        env["ONLOOP_WARM_UP"] = "1" if warm else "0"
        if model == "openai":
            env["OPENAI_BASE_URL"] = server.base_url
        command = [sys.executable, "-m", "agent_core", "worker", "--concurrency", "1"]
        command += ["--poll-seconds", "0.05"]
        worker = subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                done = [storage.get_run(store, run_id=r).status for r in ids]
                if all(s in storage.FINISHED_STATUSES for s in done):
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
    server.stop()
    return [gap for _, gap in sorted(gaps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs of each CLI command")
    parser.add_argument("--workers", type=int, default=5, help="fresh workers to start")
    parser.add_argument("--runs", type=int, default=6, help="runs queued for each worker")
    options = parser.parse_args()
    for name, seconds in cli_medians(options.repeat).items():
        print(f"{name:24} median {seconds * 1000:6.0f} ms over {options.repeat} runs")
    cases = [(model, warm) for model in ("demo", "openai") for warm in (True, False)]
    first: dict[tuple[str, bool], list[float]] = {case: [] for case in cases}
    later: dict[tuple[str, bool], list[float]] = {case: [] for case in cases}
    for _ in range(options.workers):  # interleaved: every case sees the same machine
        for case in cases:
            gaps = claim_to_start(options.runs, *case)
            first[case].append(gaps[0])
            later[case].extend(gaps[1:])
    print(f"claim -> run_started ({options.workers} fresh workers x {options.runs} runs each):")
    for model, warm in cases:
        one = statistics.median(first[model, warm])
        rest = statistics.median(later[model, warm])
        print(
            f"  {model:6} {'warm-up' if warm else 'no warm-up':10}  first run median "
            f"{one * 1000:5.0f} ms, later runs median {rest * 1000:5.0f} ms "
            f"(first/later {one / rest:.1f})"
        )


if __name__ == "__main__":
    main()
