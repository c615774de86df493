"""How fast the dashboard stays on a big history: 100,000 runs and 2,000,000 events by default.

    python benchmarks/dashboard.py                      # the full size (seeding takes ~1 minute)
    python benchmarks/dashboard.py --runs 5000 --events 100000   # a quick try

Seeds a temporary SQLite store with raw sqlite3 (one transaction, executemany) against the schema
storage.open_store creates, then times the queries behind the pages (median of --repeat runs) and
whole page renders with Streamlit's AppTest. Targets: a query under 50 ms, a page under 300 ms.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from agent_core.oversight import fatigue  # noqa: E402
from storage import insights  # noqa: E402
from storage.models import tool_fields  # noqa: E402
from storage.schema import rebuild_tool_call_counts  # noqa: E402

QUERY_TARGET_MS = 50.0
PAGE_TARGET_MS = 300.0
STATUSES = ["succeeded"] * 60 + ["failed"] * 15 + ["halted"] * 8 + ["interrupted"] * 5
STATUSES += ["paused"] * 4 + ["waiting"] * 3 + ["running"] * 3 + ["queued"] * 2
TOOLS = ["read_file", "list_files", "calculator", "write_file", "delete_files", "run_shell"]
GOALS = [
    "Summarise the meeting notes into a short report",
    "Total the invoices in the workspace and write the sum to total.txt",
    "Clean up temporary files left by the last build",
    "Find the open items in todo.txt and sort them by priority",
    "Check the build status and explain the failure",
]
# One cycle of a run's life after its first two events, as the worker writes it.
CYCLE = [
    ("model_call", {"step": 1, "text": "I will look at the files first.", "tool_calls": [],
                    "tokens_in": 420, "tokens_out": 60, "cost_usd": 0.0009, "latency_s": 0.8,
                    "model_name": "gpt-4o-mini"}),
    ("tool_call", {"tool_call_id": "c1", "tool": "TOOL", "arguments": {"path": "notes.md"},
                   "risk": "low", "verdict": "allow", "rule": None, "reason": "low risk",
                   "args_hash": "0" * 64}),
    ("tool_result", {"tool_call_id": "c1", "tool": "TOOL", "ok": True,
                     "output": "Notes: ship on Friday; invoices due.", "duration_s": 0.01,
                     "outcome": "ok"}),
]  # fmt: skip
DRIFT = ("drift", {"monitor": "repetition", "detail": "same call 3 times", "action": "pause"})


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores DATETIME on SQLite


def _event_kinds() -> list[tuple[str, str, str | None, str | None]]:
    """The (kind, payload JSON, tool, verdict) variants events cycle through: encoded once, reused
    by every run; tool and verdict are the columns append_event fills from the payload."""
    variants = []
    for tool in TOOLS:
        for kind, payload in CYCLE:
            text = json.dumps(payload).replace('"TOOL"', json.dumps(tool))
            variants.append((kind, text, *tool_fields(kind, json.loads(text))))
    return variants


def _plan(runs: int, events: int) -> tuple[int, list[int]]:
    """Events per run: the first run gets a long history (the Run page's worst case)."""
    big = min(50_000, max(2, events // 4)) if runs > 1 else events
    rest = events - big
    each, extra = divmod(rest, max(1, runs - 1))
    counts = [big] + [max(2, each + (1 if i < extra else 0)) for i in range(runs - 1)]
    return big, counts


def _run_rows(runs: int, counts: list[int], start: datetime) -> Iterator[tuple]:
    span = timedelta(days=365) / max(1, runs)
    for i in range(runs):
        created = start + span * i
        status = STATUSES[(i * 7919) % len(STATUSES)]
        finished = (
            _stamp(created + timedelta(seconds=45)) if status in storage.FINISHED_STATUSES else None
        )
        yield (
            f"{i:012x}", f"{GOALS[i % len(GOALS)]} (#{i})", "openai" if i % 3 else "demo",
            "gpt-4o-mini" if i % 3 else "demo", "supervised", status, 30, 600.0,
            f"/tmp/ws/{i:012x}", "bench", _stamp(created), _stamp(created), finished,
            _stamp(created + timedelta(seconds=45)), counts[i], counts[i] // 3, counts[i] // 3,
            420 * counts[i] // 3, 60 * counts[i] // 3, 0.0009 * counts[i] / 3, 45.0,
        )  # fmt: skip


RUN_COLUMNS = (
    "id, goal, model, model_name, autonomy, status, max_steps, max_seconds, workspace, created_by, "
    "created_at, started_at, finished_at, updated_at, last_seq, steps, tool_calls, tokens_in, "
    "tokens_out, cost_usd, active_seconds"
)


def _event_rows(runs: int, counts: list[int], start: datetime) -> Iterator[tuple]:
    variants = _event_kinds()
    span = timedelta(days=365) / max(1, runs)
    status_payload = json.dumps({"status": "running", "reason": None})
    for i in range(runs):
        run_id, created = f"{i:012x}", start + span * i
        cycle = itertools.cycle(variants[(i % len(TOOLS)) * 3 :] + variants)
        for seq in range(1, counts[i] + 1):
            if seq == 1:
                kind, payload, tool, verdict = "status", status_payload, None, None
            elif i % 10 == 0 and seq == counts[i]:
                kind, payload, tool, verdict = DRIFT[0], json.dumps(DRIFT[1]), None, None
            else:
                kind, payload, tool, verdict = next(cycle)
            at = _stamp(created + timedelta(seconds=seq))
            yield run_id, seq, kind, at, payload, tool, verdict


def _approval_rows(runs: int, start: datetime) -> Iterator[tuple]:
    """A decided approval for every 20th run; the newest 20 runs' approvals are still pending."""
    span = timedelta(days=365) / max(1, runs)
    args = json.dumps({"paths": ["a.tmp", "b.tmp"]})
    for i in range(0, runs, 20):
        asked = start + span * i + timedelta(seconds=3)
        pending = i >= runs - 400
        status = "pending" if pending else ("approved", "rejected", "approved")[i % 3]
        decided = None if pending else _stamp(asked + timedelta(seconds=5 + i % 300))
        yield (
            f"{i:012x}", 3, f"c{i}", "delete_files", args, "0" * 64, "high", "high risk",
            "delete 2 files: a.tmp, b.tmp", "These are temporary.", status, _stamp(asked),
            decided, None if pending else "bench",
        )  # fmt: skip


def seed(path: Path, runs: int, events: int) -> str:
    """Create the schema with storage, then bulk-insert in one transaction; returns the big run."""
    storage.open_store(f"sqlite:///{path}").dispose()
    big, counts = _plan(runs, events)
    start = storage.utcnow() - timedelta(days=365)  # the last run is created now
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -500000")
    conn.execute("BEGIN")
    marks = ", ".join("?" * len(RUN_COLUMNS.split(",")))
    conn.executemany(
        f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks})", _run_rows(runs, counts, start)
    )
    conn.executemany(
        "INSERT INTO events (run_id, seq, kind, at, payload, tool, verdict) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        _event_rows(runs, counts, start),
    )
    conn.executemany(
        "INSERT INTO approvals (run_id, request_seq, tool_call_id, tool, arguments, args_hash, "
        "risk, reason, summary, model_text, status, requested_at, decided_at, decided_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _approval_rows(runs, start),
    )
    conn.execute("COMMIT")
    conn.close()
    with storage.open_store(f"sqlite:///{path}") as store, store.engine.begin() as counting:
        rebuild_tool_call_counts(counting)  # what append_event keeps up as it goes
    # No ANALYZE: a store never runs it, so its queries must plan well without statistics.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return f"{0:012x}"


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm the caches the way a running dashboard has them warm
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def report(name: str, ms: float, target: float) -> None:
    verdict = "ok  " if ms < target else "SLOW"
    print(f"  {verdict} {name:<58} {ms:9.1f} ms   (target < {target:.0f} ms)")


def _page_queries(
    store: storage.Store, big_run: str, typical_run: str
) -> list[tuple[str, Callable]]:
    total = storage.count_runs(store)
    bad = ["failed", "halted"]
    return [
        ("History first page: count_runs + list_runs(50)",
         lambda: (storage.count_runs(store), storage.list_runs(store, limit=50))),
        ("History, status filter (failed, halted)",
         lambda: (storage.count_runs(store, status=bad), storage.list_runs(store, status=bad))),
        ("History, goal search 'invoices'",
         lambda: (storage.count_runs(store, search="invoices"),
                  storage.list_runs(store, search="invoices"))),
        ("History, last page (deepest offset)",
         lambda: storage.list_runs(store, limit=50, offset=max(0, total - 50))),
        ("History, model filter options", lambda: insights.models_in_use(store)),
        ("Run page, first 200 events of the longest run",
         lambda: storage.events_after(store, run_id=big_run, after_seq=0, limit=200)),
        ("Run page, last 200 events of the longest run",
         lambda: storage.last_events(store, run_id=big_run, n=200)),
        ("Run page, all events of a typical run",
         lambda: storage.events_after(store, run_id=typical_run)),
        ("Run page, all events of the longest run",
         lambda: storage.events_after(store, run_id=big_run)),
        ("Approvals inbox: pending_approvals + count",
         lambda: (storage.pending_approvals(store), storage.count_pending_approvals(store))),
    ]  # fmt: skip


INSIGHTS = insights.QUERIES


def time_queries(store: storage.Store, big_run: str, typical_run: str, repeat: int) -> None:
    print(f"Queries (median of {repeat}):")
    for name, action in _page_queries(store, big_run, typical_run):
        report(name, median_ms(action, repeat), QUERY_TARGET_MS)
    now = storage.utcnow()
    periods = [("all time", None)] + [(f"{d} days", now - timedelta(days=d)) for d in (30, 90)]
    for name in INSIGHTS:
        query = getattr(insights, name)
        for label, since in periods:
            action = functools.partial(query, store, since=since)
            report(f"Insights {name} ({label})", median_ms(action, repeat), QUERY_TARGET_MS)
    for label, since in periods:  # every read of storage.ask_history, then the figures
        action = functools.partial(fatigue.fatigue, store, since=since)
        report(f"Insights approval fatigue ({label})", median_ms(action, repeat), QUERY_TARGET_MS)


def render_ms(
    page: str,
    repeat: int,
    query: dict[str, str] | None = None,
    state: dict[str, str] | None = None,
) -> float:
    import streamlit as st
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    def once() -> None:
        logger.set_log_level("error")  # AppTest outside a server warns about a missing runtime
        st.cache_data.clear()  # Insights caches its aggregates: time the cold render
        at = AppTest.from_file(str(ROOT / "dashboard" / "views" / page), default_timeout=300)
        if query:
            at.query_params.update(query)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        at.run()
        if at.exception:
            raise RuntimeError(f"{page} failed: {at.exception[0].value}")

    return median_ms(once, repeat)


def time_pages(big_run: str, typical_run: str, repeat: int) -> None:
    print(f"Page renders with AppTest.from_file(...).run() (median of {repeat}):")
    pages = [
        ("History page", "history.py", None, None),
        ("Run page, typical run (?run=ID)", "run.py", {"run": typical_run}, None),
        ("Run page, the longest run (?run=ID)", "run.py", {"run": big_run}, None),
        ("Approvals page (20 pending)", "approvals.py", None, None),
        ("Insights page, 30 days, not cached", "insights.py", None, None),
        (
            "Insights page, all time, not cached",
            "insights.py",
            None,
            {"insights-period": "All time"},
        ),
    ]
    for name, page, query, state in pages:
        if not (ROOT / "dashboard" / "views" / page).exists():
            print(f"  skip {name}: dashboard/views/{page} does not exist yet")
            continue
        report(name, render_ms(page, repeat, query, state), PAGE_TARGET_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions per figure")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="onloop-bench-"))
    path = folder / "onloop.db"
    os.environ["ONLOOP_DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["ONLOOP_WORKSPACES"] = str(folder / "workspaces")
    print(f"Seeding {args.runs:,} runs and {args.events:,} events into {path} ...")
    began = time.perf_counter()
    big_run = seed(path, args.runs, args.events)
    seconds = time.perf_counter() - began
    print(f"  seeded in {seconds:.1f} s ({path.stat().st_size / 1e6:,.0f} MB)")
    store = storage.open_store()
    big = storage.get_run(store, run_id=big_run)
    typical_run = f"{args.runs // 2:012x}"
    print(f"  longest run {big_run}: {big.last_seq:,} events; typical run {typical_run}")
    try:
        time_queries(store, big_run, typical_run, args.repeat)
        time_pages(big_run, typical_run, max(3, args.repeat // 2))
    finally:
        store.dispose()
        if args.keep:
            print(f"kept {path}")
        else:
            for leftover in folder.glob("onloop.db*"):
                leftover.unlink()


if __name__ == "__main__":
    main()
