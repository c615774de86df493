"""Rounds of onloop worker processes, as throughput.py and pg_workers.py measure them: each
configuration on a fresh store, its workers started and warmed up, the runs created and timed
until the last one finished, with the workers' CPU per model call; every configuration once per
round, rounds repeated (interleaved, so a busy spell of a shared machine hits them all alike)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from cpu_meter import cpu_s
from harness import ChatServer, OnloopBench, onloop_bench, seconds, utc_now

Key = TypeVar("Key", bound=Hashable)


def ints(text: str) -> list[int]:
    """An option's comma-separated positive numbers (`--processes 1,2`)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,2 (got {text!r})") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers like 1,2 (got {text!r})")
    return values


@contextmanager
def warmed_workers(
    base_url: str,
    processes: int,
    concurrency: int,
    *,
    db_url: str | None = None,
    processes_flag: bool = False,
) -> Iterator[OnloopBench]:
    """Workers on a fresh store, each having finished a short run before anything is timed."""
    with onloop_bench(base_url, db_url=db_url) as bench:
        bench.start_workers(processes, concurrency, processes_flag=processes_flag)
        bench.wait_idle_ready(runs=2 * processes)
        yield bench


def one_batch(bench, server: ChatServer, runs: int, calls: int, latency_ms: float) -> dict:
    """Create the runs, wait for them all; wall time from before the first create."""
    before = server.stats()["requests"]
    pids = bench.worker_pids()
    cpu = cpu_s(pids)
    started = utc_now()
    tick = time.perf_counter()
    ids = bench.create_runs(runs, calls, latency_ms)
    created_s = time.perf_counter() - tick
    bench.wait(ids, timeout_s=max(600.0, runs * calls * latency_ms / 1000))
    times = [bench.times(i) for i in ids]
    ended = max(t.finished for t in times if t.finished)
    wall = seconds(ended, started)
    cpu = cpu_s(pids) - cpu  # the workers' processes only (the bench creates the runs)
    made = server.stats()["requests"] - before
    ok = sum(1 for t in times if t.status == "succeeded")
    cpu_ms = cpu / made * 1000 if made else float("nan")
    return {"wall": wall, "calls": made, "ok": ok, "created_s": created_s, "cpu_ms": cpu_ms}


def interleaved(
    repeat: int,
    keys: Sequence[Key],
    measure: Callable[[Key], dict],
    show: Callable[[Key, dict], None],
) -> dict[Key, list[dict]]:
    """Every key measured once a round for `repeat` rounds, each row shown as it is measured;
    the rows by key, in the keys' order, for the medians."""
    got: dict[Key, list[dict]] = {}
    for _round in range(repeat):
        for key in keys:
            one = measure(key)
            got.setdefault(key, []).append(one)
            show(key, one)
    return got
