"""Approval fatigue: how often onloop asks, how people answer, and where the asks come from.

A person stays on the loop only while the asks are few and each one matters. These figures say
whether they are: asks per run and per 100 tool calls, how asks end (approved unchanged, edited,
rejected, expired…), how long people take to decide and who decides faster than anyone can read
(under FAST_S), which classes, rules and tools ask, the allowances given and revoked, and how
many asks the suggested rules would have saved. `figures` is pure (tested on hand-made rows);
`fatigue` reads a period from the store (storage/ask_history.py) and computes them.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from agent_core.oversight.suggestions import suggest
from storage.insights import percentile
from storage.vocabulary import CALL_CLASSES

if TYPE_CHECKING:
    from storage.ask_history import AskGroup, AskHistory, Decision, RunDay
    from storage.engine import Store

FAST_S = 2.0  # a decision faster than this is a reflex, not a reading (rubber-stamping)
FLAG_MIN_DECISIONS = 5  # a person is flagged on a median under FAST_S over at least this many
UNCLASSIFIED = "unclassified"  # an ask recorded without a call class (older, or not classified)
DEFAULT_RULE = "default (risk × autonomy)"  # an ask no rule made: the tool's risk and autonomy
OUTCOMES = (
    "approved unchanged",  # approved as asked: no edit, no note
    "approved with a note",
    "approved with an edit",
    "approved by --yes",  # `onloop run --yes`: nobody looked
    "rejected",
    "expired",
    "cancelled by a halt",
    "pending",
)
SCOPES = ("call", "prefix", "folder", "domain", "tool", "arguments")  # last two: older stores
# Time-to-decide bars: (upper bound in seconds, label); the FAST_S line falls between bars 2 and 3.
WAIT_BUCKETS = (
    (1.0, "< 1 s"),
    (2.0, "1–2 s"),
    (5.0, "2–5 s"),
    (10.0, "5–10 s"),
    (30.0, "10–30 s"),
    (60.0, "30 s–1 min"),
    (300.0, "1–5 min"),
    (1800.0, "5–30 min"),
    (math.inf, "30 min or more"),
)
_UPPERS = [upper for upper, _ in WAIT_BUCKETS]


class HasSavedAsks(Protocol):
    """A suggested rule, as far as these figures need it (oversight/suggestions.py's Suggestion)."""

    @property
    def saved_asks(self) -> int: ...

    @property
    def label(self) -> str: ...


Suggest = Callable[["Store"], Sequence[HasSavedAsks]]
# Where the Insights page and `onloop insights` get the suggested rules whose savings they show
# (None shows no savings line; tests put a fake here).
SUGGESTIONS: Suggest | None = suggest


@dataclass(frozen=True)
class Person:
    """How one person decides: their decisions, median time, how many were under FAST_S."""

    by: str
    decisions: int
    median_s: float
    fast: int
    flagged: bool  # median under FAST_S over at least FLAG_MIN_DECISIONS decisions


@dataclass(frozen=True)
class Savings:
    """What the suggested rules would have saved, of every ask on record."""

    asks: int
    share: float | None
    rules: int
    labels: list[str]


@dataclass(frozen=True)
class Fatigue:
    runs: int
    tool_calls: int
    asks: int
    asks_per_run: float | None
    asks_per_100_calls: float | None
    outcomes: dict[str, int]  # every OUTCOMES key, in that order
    decisions: int  # by people, the ones timed below
    sampled: bool  # more decisions than storage.ask_history.DECISION_SAMPLE: the latest timed
    median_s: float | None
    p90_s: float | None
    fast: int
    fast_share: float | None
    wait_buckets: list[tuple[str, int]]
    people: list[Person]  # most decisions first
    by_class: list[tuple[str, int]]  # mildest class first, unclassified last
    by_rule: list[tuple[str, int]]  # most asks first
    by_tool: list[tuple[str, int]]
    allowances: dict[str, int]  # scope -> allowances given
    revoked: int
    per_day: list[dict[str, Any]]  # day, runs, tool_calls, asks, asks_per_run
    savings: Savings | None

    def share(self, outcome: str) -> float | None:
        """The share of all asks that ended in `outcome` (None when nothing asked)."""
        return self.outcomes[outcome] / self.asks if self.asks else None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values: `onloop insights --json`."""
        data = asdict(self)
        data["shares"] = {o: self.share(o) for o in OUTCOMES}
        for key in ("wait_buckets", "by_class", "by_rule", "by_tool"):
            data[key] = [{"name": name, "count": n} for name, n in data[key]]
        return data


def since_days(days: int, *, today: datetime) -> datetime:
    """00:00 UTC of the first of the last `days` whole days, today included."""
    return datetime.combine(today.date() - timedelta(days=days - 1), time.min)


def fatigue(
    store: Store,
    *,
    since: datetime | None = None,
    model: str | None = None,
    run_id: str | None = None,
    suggestions: Sequence[HasSavedAsks] | None = None,
) -> Fatigue:
    """The figures of the runs created since `since`, of `model` and of `run_id` when given."""
    from storage.ask_history import ask_history

    return figures(
        ask_history(store, since=since, model=model, run_id=run_id), suggestions=suggestions
    )


def figures(history: AskHistory, *, suggestions: Sequence[HasSavedAsks] | None = None) -> Fatigue:
    groups = history.groups
    asks = sum(g.asks for g in groups)
    people_decided = sum(g.asks for g in groups if _by_a_person(g))
    waits = [d.wait_s for d in history.decisions]
    fast = sum(1 for w in waits if w < FAST_S)
    return Fatigue(
        runs=history.runs,
        tool_calls=history.tool_calls,
        asks=asks,
        asks_per_run=_ratio(asks, history.runs),
        asks_per_100_calls=_ratio(100 * asks, history.tool_calls),
        outcomes=_outcomes(groups),
        decisions=len(waits),
        sampled=people_decided > len(waits),
        median_s=statistics.median(waits) if waits else None,
        p90_s=percentile(waits, 0.9),
        fast=fast,
        fast_share=_ratio(fast, len(waits)),
        wait_buckets=_buckets(waits),
        people=_people(history.decisions),
        by_class=_by_class(groups),
        by_rule=_most_first((g.rule or DEFAULT_RULE, g.asks) for g in groups),
        by_tool=_most_first((g.tool, g.asks) for g in groups),
        allowances=_allowances(groups),
        revoked=history.revoked,
        per_day=[_day(d) for d in history.per_day],
        # no suggestion yet: no savings line (nothing to say that is worth a line)
        savings=_savings(suggestions, history.asks_on_record) if suggestions else None,
    )


def _day(d: RunDay) -> dict[str, Any]:
    return {
        "day": d.day,
        "runs": d.runs,
        "tool_calls": d.tool_calls,
        "asks": d.asks,
        "asks_per_run": _ratio(d.asks, d.runs),
    }


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _by_a_person(group: AskGroup) -> bool:
    return group.status in ("approved", "rejected") and not group.automatic


def _outcome(group: AskGroup) -> str:
    if group.status != "approved":
        return {"cancelled": "cancelled by a halt"}.get(group.status, group.status)
    if group.automatic:
        return "approved by --yes"
    if group.edited:
        return "approved with an edit"
    return "approved with a note" if group.noted else "approved unchanged"


def _outcomes(groups: Iterable[AskGroup]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for g in groups:
        outcome = _outcome(g)
        if outcome in counts:  # a status this version does not know is no outcome of these
            counts[outcome] += g.asks
    return counts


def _buckets(waits: Iterable[float]) -> list[tuple[str, int]]:
    counts = [0] * len(WAIT_BUCKETS)
    for w in waits:  # the first bucket whose upper bound is above w
        counts[bisect_right(_UPPERS, w)] += 1
    return [(label, n) for (_, label), n in zip(WAIT_BUCKETS, counts, strict=True)]


def _people(decisions: Iterable[Decision]) -> list[Person]:
    waits: dict[str, list[float]] = {}
    for d in decisions:
        waits.setdefault(d.by, []).append(d.wait_s)
    people = [
        Person(
            by=by,
            decisions=len(times),
            median_s=statistics.median(times),
            fast=sum(1 for t in times if t < FAST_S),
            flagged=len(times) >= FLAG_MIN_DECISIONS and statistics.median(times) < FAST_S,
        )
        for by, times in waits.items()
    ]
    return sorted(people, key=lambda p: (-p.decisions, p.by))


def _most_first(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for name, n in pairs:
        counts[name] += n
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _by_class(groups: Iterable[AskGroup]) -> list[tuple[str, int]]:
    counts = dict(_most_first((g.call_class or UNCLASSIFIED, g.asks) for g in groups))
    order = [*CALL_CLASSES, UNCLASSIFIED]
    known = [(str(c), counts.pop(c)) for c in order if c in counts]
    return known + sorted(counts.items())  # a class this version does not know, by name


def _allowances(groups: Iterable[AskGroup]) -> dict[str, int]:
    given: Counter[str] = Counter()
    for g in groups:
        if g.status == "approved" and g.allow_scope:
            given[g.allow_scope] += g.asks
    return {scope: given[scope] for scope in sorted(given, key=_scope_rank)}


def _scope_rank(scope: str) -> tuple[int, str]:
    return (SCOPES.index(scope) if scope in SCOPES else len(SCOPES), scope)


def _savings(suggestions: Sequence[HasSavedAsks], on_record: int) -> Savings:
    saved = sum(max(0, int(s.saved_asks)) for s in suggestions)
    return Savings(
        asks=saved,
        share=_ratio(saved, on_record),
        rules=len(suggestions),
        labels=[s.label for s in suggestions],
    )
