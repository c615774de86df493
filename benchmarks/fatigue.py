"""How fast the approval-fatigue figures stay on a big history: 100,000 runs, 3 asks each.

    python benchmarks/fatigue.py                   # the full size (seeding takes ~20 s)
    python benchmarks/fatigue.py --runs 5000       # a quick try

Seeds a temporary SQLite store with raw sqlite3 against the schema storage.open_store creates:
runs over a year, each with --asks approvals of varied tools, rules, classes, outcomes, people
and allowances, and a revocation in every 50th run. Times oversight.fatigue.fatigue (every read
of storage.ask_history, then the figures) for 30 days, 90 days and all time, one model, and one
run (median of --repeat). Target: under 300 ms, the budget of a whole Insights page render.
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from agent_core.oversight import fatigue  # noqa: E402
from benchmarks.dashboard import median_ms, report  # noqa: E402

TARGET_MS = 300.0
ASKS = [  # (tool, rule, call class)
    ("run_shell", "ask-shell", "build"),
    ("run_shell", None, "read"),
    ("write_file", None, "write"),
    ("fetch_url", "ask-new-domain", "network"),
    ("run_shell", "ask-shell", "destructive"),
    ("delete_files", None, None),
]
OUTCOMES = [  # (status, decided_by, note, edited, allow scope)
    ("approved", "ann", None, False, None),
    ("approved", "bob", None, False, "prefix"),
    ("approved", "ann", "careful", False, None),
    ("approved", "cy", None, True, None),
    ("rejected", "bob", "no", False, None),
    ("approved", "dan (--yes)", None, False, None),
    ("expired", "onloop (approval expired)", None, False, None),
]
MODELS = ["gpt-4o-mini", "llama3.1", "demo"]


def _stamp(moment: datetime) -> str:
    return moment.isoformat(sep=" ")


def _runs(runs: int, start: datetime, span: timedelta) -> Iterator[tuple]:
    for i in range(runs):
        created = _stamp(start + span * i)
        yield f"{i:012x}", "a goal", MODELS[i % 3], "succeeded", created, created, 20 + i % 30


def _approvals(runs: int, asks: int, start: datetime, span: timedelta) -> Iterator[tuple]:
    args = json.dumps({"command": "pytest -q"})
    for i in range(runs):
        for k in range(asks):
            tool, rule, call_class = ASKS[(i + k) % len(ASKS)]
            status, by, note, edited, scope = OUTCOMES[(i * asks + k) % len(OUTCOMES)]
            asked = start + span * i + timedelta(seconds=10 * k + 1)
            decided = asked + timedelta(seconds=(i * 7 + k * 13) % 90 + 0.5)
            yield (
                f"{i:012x}", k + 1, f"c{i}-{k}", tool, args, "a" * 64,
                "b" * 64 if edited else "a" * 64, "medium", rule, call_class, status,
                _stamp(asked), _stamp(decided), by, note, scope,
            )  # fmt: skip


def _revocations(runs: int) -> Iterator[tuple]:
    for i in range(0, runs, 50):
        yield f"{i:012x}", 1000, "allowance_revoked", json.dumps({"approval_id": i + 1})


def seed(path: Path, runs: int, asks: int) -> None:
    storage.open_store(f"sqlite:///{path}").dispose()
    start = storage.utcnow() - timedelta(days=365)
    span = timedelta(days=365) / max(1, runs)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO runs (id, goal, model, status, created_at, updated_at, tool_calls, "
        "model_name, autonomy, max_steps, max_seconds, last_seq, steps, tokens_in, tokens_out, "
        "cost_usd, active_seconds, claim_epoch) "
        "VALUES (?, ?, 'openai', ?, ?, ?, ?, ?, 'supervised', 30, 600, 0, 0, 0, 0, 0, 0, 0)",
        ((r[0], r[1], r[3], r[4], r[5], r[6], r[2]) for r in _runs(runs, start, span)),
    )
    conn.executemany(
        "INSERT INTO approvals (run_id, request_seq, tool_call_id, tool, arguments, args_hash, "
        "approved_hash, risk, rule, call_class, status, requested_at, decided_at, decided_by, "
        "note, allow_scope, reason, summary, model_text) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '')",
        _approvals(runs, asks, start, span),
    )
    conn.executemany(
        "INSERT INTO events (run_id, seq, kind, at, payload) VALUES (?, ?, ?, '2025-01-01', ?)",
        _revocations(runs),
    )
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--asks", type=int, default=3, help="approvals per run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onloop-fatigue-") as folder:
        path = Path(folder) / "onloop.db"
        seed(path, args.runs, args.asks)
        print(f"Seeded {args.runs:,} runs and {args.runs * args.asks:,} asks into {path}")
        store = storage.open_store(f"sqlite:///{path}")
        now = storage.utcnow()
        cases = [
            ("30 days", {"since": fatigue.since_days(30, today=now)}),
            ("90 days", {"since": fatigue.since_days(90, today=now)}),
            ("all time", {}),
            ("all time, one model", {"model": "llama3.1"}),
            ("one run", {"run_id": f"{args.runs // 2:012x}"}),
        ]
        print(f"oversight.fatigue.fatigue (median of {args.repeat}):")
        try:
            for label, period in cases:
                action = functools.partial(fatigue.fatigue, store, **period)
                report(f"approval fatigue, {label}", median_ms(action, args.repeat), TARGET_MS)
        finally:
            store.dispose()


if __name__ == "__main__":
    main()
