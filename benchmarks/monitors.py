"""How well the drift monitors catch stuck runs and leave legitimate ones alone, and what they cost.

    python benchmarks/monitors.py [--steps 2000] [--reps 5] [--list]

Replays issue 22's scenario suite (tests/oversight/drift_scenarios_*.py: 46 stuck or drifting
runs, 38 legitimate ones, each in the identical and the varied wording) straight into the monitor,
as the loop feeds it, and into the monitor as it was before issue 22 (benchmarks/previous_monitor.py).
A stuck run counts as caught when the monitor trips within two calls of the point it can be seen
(and not before its stuck part starts); any trip on a legitimate run is a false trip. The test
suite drives the same scenarios through the real worker and loop and checks the replay trips
where the loop does (tests/oversight/test_drift_scenarios.py).

Then the per-call cost (observe + check) on a long, varied run that never trips, around calls 10,
100 (the window is full by then) and `--steps`: the median of 21 calls around each point, the
median of that over `--reps` fresh runs. No assertion: figures for docs/oversight.md and the reviewer. `--list`
prints each scenario's result."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

from agent_core.oversight.monitors import RepetitionMonitor  # noqa: E402
from agent_core.oversight.policy import MonitorSettings  # noqa: E402
from benchmarks.previous_monitor import RepetitionMonitor as PreviousMonitor  # noqa: E402
from tests.oversight.drift_scenarios_cycles import CYCLES  # noqa: E402
from tests.oversight.drift_scenarios_repeats import REPEATS  # noqa: E402
from tests.oversight.drift_scenarios_unlisted import UNLISTED_STUCK, UNLISTED_WORK  # noqa: E402
from tests.oversight.drift_scenarios_waiting import WAITING  # noqa: E402
from tests.oversight.drift_scenarios_work import WORK  # noqa: E402
from tests.support.drift_harness import Wording, replay  # noqa: E402

Factory = Callable[..., Any]
STUCK = REPEATS + CYCLES + UNLISTED_STUCK
LEGITIMATE = WAITING + WORK + UNLISTED_WORK
MONITORS: dict[str, Factory] = {
    "previous (before issue 22)": lambda reader, actions: PreviousMonitor(MonitorSettings()),
    "issue 22": lambda reader, actions: RepetitionMonitor(
        MonitorSettings(), actions=actions, reader=reader
    ),
}


def figures(make: Factory, wording: Wording, listing: bool) -> tuple[int, int, int, int]:
    """(caught, stuck runs, false trips, legitimate runs) in one wording."""
    caught = false_trips = 0
    for build in STUCK:
        scenario = build(wording)
        ran = replay(scenario, make)
        seen = scenario.detectable_in(wording)
        hit = ran is not None and scenario.starts <= ran <= seen + 2
        caught += hit
        if listing:
            print(
                f"  {'caught' if hit else 'MISSED':7} {scenario.name} (tripped at {ran}, seen at {seen})"
            )
    for build in LEGITIMATE:
        scenario = build(wording)
        ran = replay(scenario, make)
        false_trips += ran is not None
        if listing and ran is not None:
            print(f"  TRIPPED {scenario.name} at call {ran} (legitimate)")
    return caught, len(STUCK), false_trips, len(LEGITIMATE)


def _long_run(step: int) -> tuple[str, dict, bool, str]:
    """Call `step` of a long run that keeps making progress: reads, writes, tests, polls."""
    kind = step % 5
    if kind == 0:
        return "read_file", {"path": f"src/m{step}.py"}, True, f"def f{step}():\n" * 30
    if kind == 1:
        return (
            "write_file",
            {"path": f"src/m{step}.py", "content": f"V = {step}\n" * 20},
            True,
            "ok",
        )
    if kind == 2:
        out = f"exit code 1\nFAILED tests/t.py::test_{step} - AssertionError\n" + "E x\n" * 20
        return "shell", {"command": f"pytest -q -k case{step}"}, True, out
    if kind == 3:
        return (
            "shell",
            {"command": "sleep 5; gh run view 9"},
            True,
            f"run 9: in_progress step {step}",
        )
    return "search_docs", {"query": f"topic {step}"}, True, f"hit {step}: page {step}"


def cost_us(make: Factory, points: list[int], reps: int) -> list[float]:
    """Per-call cost around each of `points` (calls): the median of 21 calls around it, the median
    of that over `reps` fresh runs (after one run that warms up the regex caches)."""
    steps = max(points)
    at: dict[int, list[float]] = {point: [] for point in points}
    for rep in range(reps + 1):
        monitor = make(None, frozenset())
        times: list[float] = []
        for step in range(1, steps + 11):
            tool, arguments, ok, output = _long_run(step)
            started = time.perf_counter()
            monitor.observe(tool, arguments, ok, output)
            tripped = monitor.check()
            times.append(time.perf_counter() - started)
            if tripped is not None:
                raise SystemExit(f"the long run tripped at call {step}: {tripped}")
        for point in points if rep else ():
            around = times[max(point - 11, 0) : point + 10]
            at[point].append(statistics.median(around) * 1e6)
    return [statistics.median(at[point]) for point in points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="the later point of the cost")
    parser.add_argument("--reps", type=int, default=5, help="fresh runs per cost figure")
    parser.add_argument("--list", action="store_true", help="each scenario's result")
    options = parser.parse_args()
    if options.steps < 200:
        parser.error("--steps must be at least 200")
    wordings = (Wording(False), Wording(True))
    print(f"{'monitor':30} {'wording':10} {'caught':>10} {'false trips':>12}")
    for name, make in MONITORS.items():
        for wording in wordings:
            if options.list:
                print(f"{name}, {wording.name} wording:")
            caught, stuck, false_trips, legit = figures(make, wording, options.list)
            print(
                f"{name:30} {wording.name:10} {caught:>4}/{stuck} ({100 * caught / stuck:3.0f}%)"
                f" {false_trips:>5}/{legit}"
            )
    print()
    points = [10, 100, options.steps]
    heads = "".join(f"{f'call {p:,}':>13}" for p in points)
    print(f"{'per-call cost (observe + check)':30}{heads}")
    for name, make in MONITORS.items():
        costs = cost_us(make, points, options.reps)
        print(f"{name:30}" + "".join(f"{c:>11.1f}µs" for c in costs))


if __name__ == "__main__":
    main()
