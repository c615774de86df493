"""Every figure of the Insights page drawn from generated rows, for the figure-equality tests.

`python tests/dashboard/insight_figure_cases.py` writes what the figures are now (template left out)
to insight_figures_before.json: the figures as plotly validated them, before the page stopped
asking plotly to."""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from agent_core.oversight.fatigue import FAST_S, WAIT_BUCKETS
from dashboard.components import fatigue_charts, insight_charts
from storage.vocabulary import RUN_STATUSES

BEFORE = Path(__file__).with_name("insight_figures_before.json")
TOOLS = ["shell", "write_file", "<b>odd</b> & tool", "fetch_url", "delete_files"]


def _days(rng: random.Random, n: int) -> list[str]:
    first = date(2026, 1, 1)
    return sorted({(first + timedelta(days=rng.randrange(n * 2))).isoformat() for _ in range(n)})


def cases(seed: int, n_days: int) -> dict[str, Callable[[], go.Figure]]:
    """Figure name -> how to draw it from rows generated with `seed` over about `n_days` days."""
    rng = random.Random(seed)
    days = _days(rng, n_days)
    runs = [
        {"day": d, "status": s, "runs": rng.randrange(1, 400)}
        for d in days
        for s in RUN_STATUSES
        if rng.random() < 0.6
    ]
    waits = [round(rng.expovariate(1 / 40), 3) for _ in range(rng.randrange(1, 3000))]
    ordered = sorted(waits)
    median, p90 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.9)]
    decisions = [
        {"tool": t, "approved": rng.randrange(9), "rejected": rng.randrange(3), "expired": 0}
        for t in TOOLS
    ]
    usage = [{"day": d, "tokens": rng.randrange(10**6), "cost_usd": rng.random() * 3} for d in days]
    drift = [
        {"monitor": m, "action": a, "stops": rng.randrange(1, 50)}
        for m in ("loop", "budget", "<i>x</i>")
        for a in ("pause", "halt", "other")
        if rng.random() < 0.7
    ]
    tools = [
        {"tool": t, "allowed": a, "asked": b, "denied": c, "calls": a + b + c}
        for t in TOOLS
        for a, b, c in [(rng.randrange(999), rng.randrange(99), rng.randrange(9))]
    ]
    buckets = [(name, rng.randrange(500)) for _, name in WAIT_BUCKETS]
    fast_bars = sum(1 for upper, _ in WAIT_BUCKETS if upper <= FAST_S)
    classes = [(c, rng.randrange(1, 90)) for c in ("read", "write", "destructive", "unclassified")]
    per_day = [
        {"day": d, "asks": (a := rng.randrange(50)), "runs": (r := rng.randrange(1, 30)),
         "asks_per_run": a / r}
        for d in days
    ]  # fmt: skip
    c = insight_charts
    return {
        "runs_by_outcome": lambda: c.runs_by_outcome(runs),
        "success_rate": lambda: c.success_rate_figure(c.daily_success_rate(runs)),
        "approval_wait": lambda: c.approval_wait_figure(waits, median, p90),
        "decisions_per_tool": lambda: c.decisions_per_tool_figure(decisions),
        "usage": lambda: c.usage_figure(usage),
        "drift": lambda: c.drift_figure(drift),
        "tool_usage": lambda: c.tool_usage_figure(tools),
        "time_to_decide": lambda: fatigue_charts.time_to_decide_figure(buckets, fast_bars, FAST_S),
        "asks_by_class": lambda: fatigue_charts.asks_by_class_figure(classes),
        "asks_per_run": lambda: fatigue_charts.asks_per_run_figure(per_day),
    }


SIZES = [(1, 1), (2, 10), (3, 400)]  # one day (the single-day axis), a fortnight, over a year


def spec(figure: go.Figure) -> dict[str, Any]:
    """The figure as Streamlit sends it (to_dict, then JSON), less the default template."""
    drawn = json.loads(figure.to_json())
    drawn["layout"].pop("template", None)
    return drawn


def drawn_now() -> dict[str, Any]:
    return {
        f"{name} seed={seed} days={n}": spec(draw())
        for seed, n in SIZES
        for name, draw in cases(seed, n).items()
    }


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    BEFORE.write_text(json.dumps(drawn_now(), sort_keys=True, indent=0) + "\n")
    print(BEFORE, BEFORE.stat().st_size)
