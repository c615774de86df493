"""How fast the store records and reads events, against raw sqlite3 doing the same work.

Run from the repo root: `python benchmarks/store.py [--events 3000] [--history 10000]`.
Prints events/s through append_event (one commit per event), the same through raw sqlite3 on
the same schema and pragmas, their ratio (aim >= 0.4), and the median time for last_events to
read the last 200 events of a long run (aim < 5 ms).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

import storage  # noqa: E402

MODEL_CALL = {
    "step": 4,
    "text": "I will list the workspace first, then read the notes and summarise them.",
    "tool_calls": [{"id": "call_7f3a", "name": "list_files", "arguments": '{"path": "."}'}],
    "tokens_in": 1834,
    "tokens_out": 96,
    "cost_usd": 0.000333,
    "latency_s": 0.84,
    "model_name": "gpt-4o-mini",
}
ROUNDS = 3  # the two writers take turns, so neither gets a warmer file or a quieter machine


def append_through_store(store: storage.Store, run_id: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        storage.append_event(store, run_id=run_id, kind="model_call", payload=MODEL_CALL)
    return time.perf_counter() - started


def raw_connection(path: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(path, isolation_level=None)
    for pragma in ("busy_timeout = 30000", "foreign_keys = ON", "synchronous = NORMAL"):
        raw.execute(f"PRAGMA {pragma}")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    return raw


def append_raw(raw: sqlite3.Connection, run_id: str, count: int) -> float:
    """The same work by hand: bump last_seq, insert the event, commit."""
    started = time.perf_counter()
    for _ in range(count):
        at = storage.utcnow().isoformat(sep=" ", timespec="microseconds")
        body = json.dumps(MODEL_CALL, default=str)
        raw.execute("BEGIN IMMEDIATE")
        seq = raw.execute(
            "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", (run_id,)
        ).fetchall()[0][0]
        raw.execute(
            "INSERT INTO events (run_id, seq, kind, at, payload) VALUES (?, ?, ?, ?, ?)",
            (run_id, seq, "model_call", at, body),
        )
        raw.execute("COMMIT")
    return time.perf_counter() - started


def measure_appends(store: storage.Store, path: Path, events: int) -> tuple[float, float]:
    ours = storage.create_run(store, goal="benchmark: append_event").id
    theirs = storage.create_run(store, goal="benchmark: raw sqlite3").id
    raw = raw_connection(path)
    append_through_store(store, ours, 200)  # warm both paths up
    append_raw(raw, theirs, 200)
    per_round = max(1, events // ROUNDS)
    ours_s = theirs_s = 0.0
    for _ in range(ROUNDS):
        ours_s += append_through_store(store, ours, per_round)
        theirs_s += append_raw(raw, theirs, per_round)
    raw.close()
    total = per_round * ROUNDS
    return total / ours_s, total / theirs_s


def measure_tail_read(store: storage.Store, history: int, reads: int = 50) -> float:
    run_id = storage.create_run(store, goal="benchmark: a long run").id
    append_through_store(store, run_id, history - 1)  # plus the "queued" status event
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        tail = storage.last_events(store, run_id=run_id, n=200)
        timings.append(time.perf_counter() - started)
    assert len(tail) == 200 and tail[-1].seq == history
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--history", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = storage.open_store(str(path))
        ours, raw = measure_appends(store, path, args.events)
        read_ms = measure_tail_read(store, args.history)
        store.dispose()
    print(f"sqlite {sqlite3.sqlite_version}, WAL, synchronous=NORMAL, one commit per event")
    print(f"append_event: {ours:,.0f} events/s")
    print(f"raw sqlite3: {raw:,.0f} events/s")
    print(f"ratio: {ours / raw:.2f} (aim >= 0.4)")
    print(f"last_events(n=200) of {args.history:,} events: {read_ms:.2f} ms median (aim < 5 ms)")


if __name__ == "__main__":
    main()
