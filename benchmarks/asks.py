"""How often the shipped policy asks a person on six everyday tasks, and how often it should not.

    python benchmarks/asks.py [--policy PATH] [--calls]

Replays the labelled workloads of tests/oversight/workloads.py through the real policy decision
under manual, supervised and autonomous, first approving each ask once, then choosing "allow for
the run" at each first ask of a tool. Per task and autonomy: calls, asks, needless asks (asked
but harmless), risky calls unasked (needing a person or a refusal, yet allowed) and harmless
calls refused. `--calls` lists the calls behind the last two columns. No model, no worker."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

from agent_core.oversight.policy_file import PolicyError, load_policy  # noqa: E402
from tests.oversight.workloads import WORKLOADS  # noqa: E402
from tests.support.workload_harness import (  # noqa: E402
    LABELS,
    Measurement,
    measure_all,
    shipped_policy,
    total,
)

COLUMNS = ("calls", "asks", "needless", "risky unasked", "refused harmless")


def _row(task: str, autonomy: str, measurements: Sequence[Measurement]) -> str:
    t = total(measurements)
    figures = (t.calls, t.asks, t.needless, t.risky_unasked, t.refused_harmless)
    return f"{task:<34} {autonomy:<11}" + "".join(
        f"{n:>{len(c) + 2}}" for n, c in zip(figures, COLUMNS, strict=True)
    )


def table(measurements: Sequence[Measurement], allow_for_run: bool) -> list[str]:
    chosen = [m for m in measurements if m.allow_for_run == allow_for_run]
    how = '"allow for the run" at each first ask' if allow_for_run else "each ask approved once"
    lines = [f"## {how}", f"{'task':<34} {'autonomy':<11}" + "".join(f"  {c}" for c in COLUMNS)]
    tasks = list(dict.fromkeys(m.task for m in chosen))
    autonomies = list(dict.fromkeys(m.autonomy for m in chosen))
    for task in tasks:
        for autonomy in autonomies:
            lines.append(
                _row(
                    task, autonomy, [m for m in chosen if (m.task, m.autonomy) == (task, autonomy)]
                )
            )
    for autonomy in autonomies:
        lines.append(_row("TOTAL", autonomy, [m for m in chosen if m.autonomy == autonomy]))
    return lines


def disagreements(measurements: Sequence[Measurement]) -> list[str]:
    lines = ["## the calls behind the last two columns"]
    for m in measurements:
        how = "allow for the run" if m.allow_for_run else "approve once"
        for v in m.verdicts:
            call, verdict = v.call, v.decision.verdict
            if (verdict == "allow" and call.label != "harmless") or (
                verdict == "deny" and call.label == "harmless"
            ):
                what = call.arguments.get("command") or call.arguments.get("path") or call.arguments
                lines.append(
                    f"{m.task} / {m.autonomy} / {how}: {verdict} {call.label} {call.tool} {what!r}"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", help="a policy file (default: the one onloop ships)")
    parser.add_argument("--calls", action="store_true", help="list the disagreeing calls")
    options = parser.parse_args(argv)
    try:
        policy = load_policy(options.policy) if options.policy else shipped_policy()
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    labels = Counter(c.label for w in WORKLOADS for c in w.calls)
    counted = ", ".join(f"{labels[label]} {label}" for label in LABELS)
    print(f"policy: {policy.source}; {len(WORKLOADS)} tasks, {labels.total()} calls ({counted})")
    measurements = measure_all(WORKLOADS, policy)
    for allow_for_run in (False, True):
        print()
        print("\n".join(table(measurements, allow_for_run)))
    if options.calls:
        print()
        print("\n".join(disagreements(measurements)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
