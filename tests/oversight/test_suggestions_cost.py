"""Suggested rules cost what the distinct calls cost (issue 25 part 4): each distinct call is
worked out once, each refused call checked once, however often people decided them; and the
suggestions are exactly those of the approval-by-approval way they were first worked out."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

import pytest
from sqlalchemy import event

import storage
from agent_core.oversight import suggestions
from agent_core.oversight.suggestions import RECENT, REFUSED, Suggestion, suggest
from agent_core.tools.builtins import builtin_tools
from agent_core.tools.workspace import Workspace
from tests.support import dashboard_seed as seed

# (tool, risk, arguments, decision, edited arguments): what people decide, again and again
CALLS = [
    ("run_shell", "high", {"command": "git push origin feature-1"}, "approved", None),
    ("run_shell", "high", {"command": "git push origin feature-2"}, "approved", None),
    ("run_shell", "high", {"command": "git push --force origin main"}, "rejected", None),
    ("run_shell", "high", {"command": "pytest -q tests/unit"}, "approved", None),
    ("run_shell", "high", {"command": "python -m pytest -x"}, "approved", None),
    ("run_shell", "high", {"command": "npm run build"}, "approved", None),
    ("run_shell", "high", {"command": "rm -rf build"}, "rejected", None),
    ("run_shell", "high", {"command": "npm run lint"}, "approved", {"command": "npm run fmt"}),
    ("write_file", "medium", {"path": "docs/a.md", "content": "x"}, "approved", None),
    ("write_file", "medium", {"path": "docs/guide/b.md", "content": "y"}, "approved", None),
    ("write_file", "medium", {"path": "src/app.py", "content": "z"}, "approved", None),
    ("write_file", "medium", {"path": "src/secret.py", "content": "k"}, "rejected", None),
    ("write_file", "medium", {"path": "../outside.txt", "content": "k"}, "approved", None),
    ("delete_files", "high", {"paths": ["a.tmp", "b.tmp"]}, "approved", None),
    ("delete_files", "high", {"paths": ["cache/x.tmp"]}, "approved", None),
    ("delete_files", "high", {"paths": ["src/main.py"]}, "rejected", None),
    ("fetch_url", "medium", {"url": "https://docs.python.org/3/"}, "approved", None),
    ("fetch_url", "medium", {"url": "https://example.com/a"}, "approved", None),
    ("fetch_url", "medium", {"url": "https://example.com/b"}, "rejected", None),
    ("my_tool", "low", {"target": "notes/today.md"}, "approved", None),
]


def _decide(store, runs, rounds: int) -> None:
    """Every call decided `rounds` times, spread over the runs as work spreads."""
    spread = itertools.cycle(runs)
    for _ in range(rounds):
        for tool, risk, arguments, decision, edited in CALLS:
            asked = seed.make_approval(
                store, next(spread), tool=tool, risk=risk, arguments=arguments
            )
            storage.decide_approval(
                store,
                approval_id=asked.id,
                decision=decision,
                decided_by="ann",
                edited_arguments=edited,
                approved_hash="h",
            )


def _one_by_one(store, *, min_approvals: int = 5, min_runs: int = 2) -> list[Suggestion]:
    """The way suggestions were first worked out: every approval on its own (the reference)."""
    decided = storage.decisions(store, limit=RECENT)
    kinds = {name: tool.argument_kinds for name, tool in builtin_tools().items()}
    groups: dict[str, list] = defaultdict(list)
    rules = {}
    for approval in decided:
        if approval.status != "approved" or approval.edited_arguments is not None:
            continue
        widest = suggestions._widest(approval, kinds.get(approval.tool))
        if widest is None:
            continue
        key = suggestions._key(widest[0].model_dump(mode="json", exclude_defaults=True))
        groups[key].append(approval)
        rules[key] = widest
    refused = [a for a in decided if a.status in REFUSED or a.edited_arguments is not None]
    active = suggestions._already(store)
    found = []
    for key, approvals in groups.items():
        runs = {a.run_id for a in approvals}
        rule, label = rules[key]
        if len(approvals) < min_approvals or len(runs) < min_runs or key in active:
            continue
        if any(suggestions._covers(rule, a, kinds.get(a.tool)) for a in refused):
            continue
        found.append(
            Suggestion(
                rule=rule,
                label=(
                    f"approved {len(approvals)} of {len(approvals)} times in {len(runs)} runs, "
                    f"never edited or rejected: allow {label} in this project?"
                ),
                approved=len(approvals),
                runs=len(runs),
                saved_asks=len(approvals),
                approval_ids=tuple(sorted(a.id for a in approvals)),
            )
        )
    return sorted(found, key=lambda s: (-s.saved_asks, s.label))


@pytest.fixture
def decided(any_store):
    """On both databases: the arguments come back as the text each one stores."""
    runs = [seed.make_run(any_store, status="succeeded") for _ in range(3)]
    _decide(any_store, runs, rounds=6)
    return any_store


def test_the_suggestions_are_those_of_the_approval_by_approval_way(decided):
    found = suggest(decided)
    assert found == _one_by_one(decided)
    assert len(found) >= 3  # the set is one where some rules are suggested, others blocked
    for minimum in (1, 7, 30):
        assert suggest(decided, min_approvals=minimum) == _one_by_one(
            decided, min_approvals=minimum
        )
    assert suggest(decided, min_runs=4) == _one_by_one(decided, min_runs=4) == []


def test_decided_calls_are_the_decisions_read_lightly(decided):
    calls = storage.decided_calls(decided, limit=RECENT)
    old = storage.decisions(decided, limit=RECENT)
    fields = ("id", "run_id", "tool", "risk", "status", "arguments", "edited_arguments")
    assert [[getattr(c, f) for f in fields] for c in calls] == [
        [getattr(a, f) for f in fields] for a in old
    ]
    assert all(json.loads(c.call) == c.arguments for c in calls)
    assert len({id(c.arguments) for c in calls}) == len(CALLS)  # one decoded dict per text


def _resolves(store, monkeypatch) -> int:
    """How many times suggest resolves a path through a workspace."""
    count = 0
    real = Workspace.resolve

    def counting(self, relative):
        nonlocal count
        count += 1
        return real(self, relative)

    monkeypatch.setattr(Workspace, "resolve", counting)
    suggest(store)
    monkeypatch.setattr(Workspace, "resolve", real)
    return count


def test_paths_are_resolved_per_distinct_call_not_per_decision(store, monkeypatch):
    runs = [seed.make_run(store, status="succeeded") for _ in range(3)]
    _decide(store, runs, rounds=5)  # every pattern asked often enough to be checked
    few = _resolves(store, monkeypatch)
    assert few > 0
    _decide(store, runs, rounds=10)  # three times the decisions, the same calls
    assert _resolves(store, monkeypatch) == few


def _statements(store) -> int:
    seen: list[str] = []
    record = lambda *args: args[2].startswith("SELECT") and seen.append(args[2])  # noqa: E731
    event.listen(store.engine, "before_cursor_execute", record)
    try:
        suggest(store)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return len(seen)


def test_the_decisions_are_read_in_a_fixed_number_of_statements(store):
    runs = [seed.make_run(store, status="succeeded") for _ in range(3)]
    _decide(store, runs, rounds=1)
    few = _statements(store)
    _decide(store, runs, rounds=5)
    assert _statements(store) == few == 2  # the decided calls and the project's rules
