"""The big history benchmarks/dashboard.py times: seeded once with raw sqlite3, kept in a cache.

Seeding 100,000 runs and 2,000,000 events takes minutes on a shared machine, so the seeded store
is kept under the cache folder (default ~/.cache/onloop-bench, or $ONLOOP_BENCH_CACHE) and reused
by the next run of the benchmark with the same sizes. A store cached by an older onloop is
upgraded in place by storage.open_store (the migrations a real store would get), and the time
that took is printed.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.models import tool_fields  # noqa: E402
from storage.schema import rebuild_tool_call_counts  # noqa: E402
from storage.versions import UPGRADE_COPY_ENV, current_version  # noqa: E402

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


def cache_folder() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "onloop-bench"
    return Path(os.environ.get("ONLOOP_BENCH_CACHE", default))


def cached_store(runs: int, events: int, *, fresh: bool = False) -> tuple[Path, str]:
    """The seeded store for these sizes (seeded now if not cached or `fresh`), upgraded to this
    onloop's schema; returns its path and the id of the longest run."""
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"dashboard-{runs}-runs-{events}-events.db"
    done = path.with_name(path.name + ".seeded")
    if fresh or not done.exists():
        for leftover in folder.glob(path.name + "*"):
            leftover.unlink()
        print(f"Seeding {runs:,} runs and {events:,} events into {path} ...")
        began = time.perf_counter()
        seed(path, runs, events)
        done.write_text("complete\n")
        print(f"  seeded in {time.perf_counter() - began:.1f} s")
    else:
        print(f"Reusing the store seeded earlier: {path} (--fresh seeds it again)")
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    found = current_version(engine)
    engine.dispose()
    os.environ[UPGRADE_COPY_ENV] = "0"  # the cache is a benchmark's, not a person's history
    began = time.perf_counter()
    storage.open_store(url).dispose()
    if found != storage.SCHEMA_VERSION:
        took = time.perf_counter() - began
        print(f"  upgraded from schema {found} to {storage.SCHEMA_VERSION} in {took:.1f} s")
    print(f"  {path.stat().st_size / 1e6:,.0f} MB")
    return path, f"{0:012x}"
