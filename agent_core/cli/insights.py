"""`onloop insights`: how often onloop asks people, how they answer, and where the asks come from."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from agent_core.cli.errors import fail
from agent_core.oversight import inert

if TYPE_CHECKING:  # the figures load the store (SQLAlchemy): imported when the command runs
    import storage
    from agent_core.oversight.fatigue import Fatigue

MAX_DAYS = 36_500  # a century: longer is all time (`--days 0`)
TOP = 10  # rules and tools listed; --json has them all


def check_days(days: int) -> None:
    if not 0 <= days <= MAX_DAYS:
        raise fail(f"--days must be between 0 (all time) and {MAX_DAYS:,}, e.g. --days 30")


def show_insights(
    store: storage.Store, *, days: int, model: str | None, run_id: str | None, json_out: bool
) -> None:
    """Print the figures of the runs created in the last `days` days (0: all time, checked by
    check_days), of `model`, or of the run `run_id` alone (its whole life)."""
    import storage
    from agent_core.oversight import fatigue
    from storage.insights import has_history

    since = None
    if run_id is not None:
        run_id = storage.get_run(store, run_id=run_id).id
    elif days:
        since = fatigue.since_days(days, today=storage.utcnow())
    suggestions = fatigue.SUGGESTIONS(store) if fatigue.SUGGESTIONS is not None else None
    figures = fatigue.fatigue(
        store, since=since, model=model, run_id=run_id, suggestions=suggestions
    )
    if json_out:
        period = {
            "days": days if since else None,
            "since": since.isoformat() if since else None,
            "model": model,
            "run": run_id,
        }
        typer.echo(json.dumps({"period": period, **figures.as_dict()}, indent=2))
        return
    if not has_history(store):
        typer.echo('no runs recorded yet: nothing to measure. Start one: onloop run "..."')
        return
    for line in report(figures, _period_words(days, model, run_id)):
        typer.echo(line)


def _period_words(days: int, model: str | None, run_id: str | None) -> str:
    if run_id:
        return f"run {run_id}"
    words = "all runs" if not days else f"runs created in the last {days} days (UTC)"
    return words if model is None else f"{words}, model {_one(model)}"


def _one(text: object) -> str:
    return inert.visible(text, newlines=False, tabs=False)


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 3600 else f"{value / 3600:.1f} h"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def report(figures: Fatigue, period: str) -> list[str]:
    """The figures as a compact table; every name from the store shown, not obeyed."""
    f = figures
    lines = [f"Approval fatigue, {period}"]
    if not f.runs:
        return [*lines, "no runs in this period; try a longer one (--days 90, or --days 0)"]
    per_run = "–" if f.asks_per_run is None else f"{f.asks_per_run:.1f}"
    per_100 = "–" if f.asks_per_100_calls is None else f"{f.asks_per_100_calls:.1f}"
    lines.append(
        f"runs {f.runs:,} · tool calls {f.tool_calls:,} · asks {f.asks:,} · "
        f"{per_run} asks per run · {per_100} per 100 tool calls"
    )
    if not f.asks:
        return [*lines, "nothing asked a person in this period"]
    lines += ["", f"{'how asks ended':<26}{'asks':>6}{'share':>8}"]
    lines += [
        f"  {outcome:<24}{n:>6,}{_share(n, f.asks):>8}" for outcome, n in f.outcomes.items() if n
    ]
    return lines + _decisions(f) + _origins(f) + _allowances(f)


def _decisions(f: Fatigue) -> list[str]:
    if not f.decisions:
        return ["", "no decisions by people in this period"]
    latest = "the latest " if f.sampled else ""  # more were decided than the sample holds
    lines = [
        "",
        f"time to decide, {latest}{f.decisions:,} decisions by people: "
        f"median {_seconds(f.median_s)} · p90 {_seconds(f.p90_s)}",
        f"  under 2 s (rubber-stamping): {f.fast:,} ({_share(f.fast, f.decisions)})",
        f"  {'person':<24}{'decisions':>10}{'median':>9}{'under 2 s':>11}",
    ]
    for p in f.people[:TOP]:
        flag = "  FLAGGED: median under 2 s" if p.flagged else ""
        lines.append(
            f"  {_one(p.by)[:24]:<24}{p.decisions:>10,}{_seconds(p.median_s):>9}{p.fast:>11,}{flag}"
        )
    if len(f.people) > TOP:
        lines.append(f"  … and {len(f.people) - TOP} more (--json lists everyone)")
    return lines


def _origins(f: Fatigue) -> list[str]:
    classes = " · ".join(f"{_one(name)} {n:,}" for name, n in f.by_class)
    lines = ["", f"asks by class: {classes}"]
    for title, rows in (("rule", f.by_rule), ("tool", f.by_tool)):
        more = f" (top {TOP} of {len(rows)})" if len(rows) > TOP else ""
        lines.append(f"asks by {title}{more}:")
        lines += [f"  {n:>6,}  {_one(name)}" for name, n in rows[:TOP]]
    return lines


def _allowances(f: Fatigue) -> list[str]:
    given = sum(f.allowances.values())
    scopes = " · ".join(f"{scope} {n:,}" for scope, n in f.allowances.items())
    lines = ["", f"allowances given: {given:,}" + (f" ({scopes})" if scopes else "")]
    lines.append(f"allowances revoked: {f.revoked:,}")
    if f.savings is not None:
        s = f.savings
        share = "–" if s.share is None else f"{s.share:.0%}"
        lines.append(
            f"suggested rules: {s.asks:,} asks ({share} of every ask on record) would have been "
            f"saved by {s.rules} suggested rules"
        )
    return lines
