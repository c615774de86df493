"""How fast the dashboard stays on a big history: 100,000 runs and 2,000,000 events by default.

    python benchmarks/dashboard.py                      # the full size (seeding takes minutes)
    python benchmarks/dashboard.py --runs 5000 --events 100000   # a quick try

The store is seeded once with raw sqlite3 and cached between runs (benchmarks/dashboard_seed.py);
then every query behind the pages is timed (median of --repeat runs, after one warm-up), and each
page's whole render with Streamlit's AppTest. Wall time on a shared machine is noisy: the load
average is printed before and after, and CPU time is printed beside each median.
Targets: a query under 50 ms, a page under 300 ms.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dashboard_seed import cached_store  # noqa: E402

import storage  # noqa: E402
from agent_core.oversight import fatigue  # noqa: E402
from storage import insights  # noqa: E402
from storage.shared_reads import live_board  # noqa: E402

QUERY_TARGET_MS = 50.0
PAGE_TARGET_MS = 300.0


def median_ms(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(wall, CPU) medians in ms of `repeat` calls after one warm-up call."""
    action()  # warm the caches the way a running dashboard has them warm
    walls, cpus = [], []
    for _ in range(repeat):
        began, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append((time.perf_counter() - began) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def report(name: str, times: tuple[float, float], target: float) -> None:
    wall, cpu = times
    verdict = "ok  " if wall < target else "SLOW"
    print(f"  {verdict} {name:<66} {wall:8.1f} ms  cpu {cpu:7.1f} ms  (target < {target:.0f})")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _history_queries(store: storage.Store, total: int) -> list[tuple[str, Callable]]:
    """Each History filter as the page asks it: the count, then one page of 50."""
    month = storage.utcnow() - timedelta(days=30)
    filters = [
        ("no filter", {}),
        ("status failed+halted", {"status": ["failed", "halted"]}),
        ("model 'demo'", {"model": ["demo"]}),
        ("created in the last 30 days", {"since": month}),
        ("goal search 'invoices' (1 in 5 runs)", {"search": "invoices"}),
        ("goal search '(#4242)' (one run)", {"search": "(#4242)"}),
        ("goal search 'no such words' (no run)", {"search": "no such words"}),
        ("goal search 'ab' (shorter than 3 characters)", {"search": "ab"}),
        ("search 'invoices' + status failed", {"search": "invoices", "status": ["failed"]}),
    ]
    queries: list[tuple[str, Callable]] = [
        (f"History, {label}: count + first page",
         functools.partial(_history_page, store, chosen))
        for label, chosen in filters
    ]  # fmt: skip
    deepest = max(0, total - 50)
    queries.append(
        ("History, last page (deepest offset)",
         lambda: storage.list_runs(store, limit=50, offset=deepest))
    )  # fmt: skip
    return queries


def _history_page(store: storage.Store, chosen: dict) -> object:
    """As the page asks: the count, then a page of runs unless nothing matched."""
    total = storage.count_runs(store, **chosen)
    return total and storage.list_runs(store, **chosen, limit=50)


def _page_queries(
    store: storage.Store, big_run: str, typical_run: str
) -> list[tuple[str, Callable]]:
    total = storage.count_runs(store)
    return _history_queries(store, total) + [
        ("History, model filter options", lambda: insights.models_in_use(store)),
        ("Run page, first 200 events of the longest run",
         lambda: storage.events_after(store, run_id=big_run, after_seq=0, limit=200)),
        ("Run page, last 200 events of the longest run",
         lambda: storage.last_events(store, run_id=big_run, n=200)),
        ("Run page, all events of a typical run",
         lambda: storage.events_after(store, run_id=typical_run)),
        ("Run page, all events of the longest run (export-size read)",
         lambda: storage.events_after(store, run_id=big_run)),
        ("Approvals inbox: inbox_approvals(25) + count",
         lambda: (storage.inbox_approvals(store, who="bench", limit=25),
                  storage.count_pending_approvals(store))),
        ("Approvals: the 200 oldest pending (every page's toasts)",
         lambda: storage.pending_approvals(store, limit=200)),
        ("Live board: active runs + their pending approvals", lambda: live_board(store)),
    ]  # fmt: skip


INSIGHTS = insights.QUERIES


def time_queries(store: storage.Store, big_run: str, typical_run: str, repeat: int) -> None:
    print(f"Queries (median of {repeat}; {load_average()}):")
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
    cold: bool = True,
) -> tuple[float, float]:
    import streamlit as st
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    def once() -> None:
        logger.set_log_level("error")  # AppTest outside a server warns about a missing runtime
        from dashboard.components import fatigue_section

        if cold:  # Insights caches its figures for 2 minutes: time the render that counts them
            st.cache_data.clear()
            fatigue_section._suggested.clear()  # and its suggested rules
        at = AppTest.from_file(str(ROOT / "dashboard" / "views" / page), default_timeout=300)
        _share_components(at)
        if query:
            at.query_params.update(query)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        at.run()
        if at.exception:
            raise RuntimeError(f"{page} failed: {at.exception[0].value}")

    return median_ms(once, repeat)


@functools.cache
def _components() -> object:
    """Streamlit's registry of installed custom components, made once as a server makes it once
    at start. Each AppTest otherwise reads the metadata of every installed package before its
    first run (about 0.1-0.2 s of CPU with 260 packages), which no page render pays."""
    from streamlit.components.v2.component_manager import BidiComponentManager

    began = time.process_time()
    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    cpu = (time.process_time() - began) * 1000
    print(f"  (installed components scanned once, as a server does at start: cpu {cpu:.1f} ms)")
    return manager


RESCAN = False  # --rescan-components: every AppTest scans them again, as before


def _share_components(at: object) -> None:
    """The one registry for every AppTest (streamlit 1.67 keeps it in `_bidi_component_manager`
    and scans only when that is None; an older AppTest has no such attribute and scans nothing)."""
    if not RESCAN and hasattr(at, "_bidi_component_manager"):
        at._bidi_component_manager = _components()  # type: ignore[attr-defined]


def time_pages(big_run: str, typical_run: str, repeat: int) -> None:
    print(f"Page renders with AppTest.from_file(...).run() (median of {repeat}; {load_average()}):")
    pages = [
        ("History page", "history.py", None, None),
        ("History page, goal search 'invoices'", "history.py", None,
         {"history-search": "invoices"}),
        ("Run page, typical run (?run=ID)", "run.py", {"run": typical_run}, None),
        ("Run page, the longest run (?run=ID)", "run.py", {"run": big_run}, None),
        ("Approvals page (20 pending)", "approvals.py", None, None),
        ("Live page", "live.py", None, None),
        ("Insights page, 30 days, not cached", "insights.py", None, None),
        ("Insights page, all time, not cached", "insights.py", None,
         {"insights-period": "All time"}),
    ]  # fmt: skip
    for name, page, query, state in pages:
        report(name, render_ms(page, repeat, query, state), PAGE_TARGET_MS)
    # What every other viewer within the 2 minutes gets: the figures from the cache.
    for label, state in (("30 days", None), ("all time", {"insights-period": "All time"})):
        times = render_ms("insights.py", repeat, None, state, cold=False)
        report(f"Insights page, {label}, cached", times, PAGE_TARGET_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed repetitions per figure")
    parser.add_argument("--fresh", action="store_true", help="seed again, ignoring the cache")
    parser.add_argument("--no-pages", action="store_true", help="time the queries only")
    parser.add_argument(
        "--rescan-components",
        action="store_true",
        help="let every AppTest scan the installed components again (the figures before 12-04)",
    )
    args = parser.parse_args()
    global RESCAN
    RESCAN = args.rescan_components
    print(load_average())
    path, big_run = cached_store(args.runs, args.events, fresh=args.fresh)
    os.environ["ONLOOP_DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["ONLOOP_WORKSPACES"] = str(path.parent / "workspaces")
    store = storage.open_store()
    big = storage.get_run(store, run_id=big_run)
    typical_run = f"{args.runs // 2:012x}"
    print(f"  longest run {big_run}: {big.last_seq:,} events; typical run {typical_run}")
    try:
        time_queries(store, big_run, typical_run, args.repeat)
        if not args.no_pages:
            time_pages(big_run, typical_run, max(5, args.repeat))
    finally:
        store.dispose()
    print(load_average())


if __name__ == "__main__":
    main()
