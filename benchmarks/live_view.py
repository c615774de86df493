"""How fast steps reach open pages in real Chromium, and what open pages cost the server.

    python benchmarks/live_view.py                    # 1, 5 and 10 open pages (10-20 minutes)
    python benchmarks/live_view.py --quick            # shorter windows, 1 and 5 pages (~5 minutes)
    python benchmarks/live_view.py --pages 1,5,10 --runs 6 --window 40 --json figures.json
    python benchmarks/live_view.py --quick --phases approvals,cpu   # some figures only

Starts `onloop up` on a temporary SQLite store, with its worker talking to a local
OpenAI-compatible server (tests/support/fake_openai.py) that answers each model call after --model-delay
seconds (2 s) with one calculator call. Each call's expression carries a unique number
(424242xxxxxx), so a page's text can be matched to the event that carried it whatever the Run
page's layout. A MutationObserver in every page records when each number first appears
(performance.timeOrigin + performance.now(), wall-clock ms); the event's `at` in the store is
its commit time (same machine, same clock).

Figures:
- step-to-screen latency p50/p95 with 1, 5, 10 Run pages open on the active runs (target: p95
  <= 1 s at 10 pages); steps never shown count as missed; with the CPU the dashboard and
  Chromium used meanwhile (on one machine the browser's share decides the latency);
- first render of a 2,500-event run seeded directly in the store: navigation start to the first
  event text in the page (target <= 2 s);
- pending-approvals count lag: approval committed -> the sidebar shows the new count (target
  <= 1 s), with the Live page open;
- opening a run from the Live page with 50 active runs listed: click -> its first step on
  screen, next to the same Run pages opened by address;
- server CPU (the Streamlit process, /proc/<pid>/stat utime+stime) per idle open page, for Live
  pages and for Run pages of runs waiting for a person (target <= 2 % of one core per page).
Timings depend on the machine's load: run it on a quiet machine for figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from tests.browser.test_journeys import CHROMIUM  # noqa: E402
from tests.browser.test_journeys import CHROMIUM_ARGS as BROWSER_ARGS  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer, Reply  # noqa: E402

# Debian's Chromium with the flags the browser tests use, and: ten people have ten visible
# windows, so one headless browser must not throttle its other tabs.
CHROMIUM_ARGS = [
    *BROWSER_ARGS,
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
STEP_TOKEN = "424242"  # + 6 digits: a calculator expression's number, unique per model call
FIRST_TOKEN = "FIRSTRENDER"  # + 5 digits: in every event of the seeded long run
LONG_RUN_EVENTS = 2500
OBSERVER = r"""
(() => {
  const pattern = /(?:424242\d{6}|FIRSTRENDER\d{5})/g;
  window.__seen = {};
  window.__metric = [];
  let last = null;
  const stamp = () => performance.timeOrigin + performance.now();
  const scan = (text) => {
    if (!text || (text.indexOf('424242') < 0 && text.indexOf('FIRSTRENDER') < 0)) return;
    const now = stamp();
    for (const match of text.matchAll(pattern)) {
      if (!(match[0] in window.__seen)) window.__seen[match[0]] = now;
    }
  };
  const metric = () => {
    const node = document.querySelector('[data-testid="stMetricValue"]');
    const value = node ? node.textContent.trim() : null;
    if (value !== null && value !== last) { last = value; window.__metric.push([stamp(), value]); }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'characterData') scan(m.target.data);
      else for (const node of m.addedNodes) scan(node.textContent);
    }
    metric();
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


@dataclass
class Server:
    url: str
    store: storage.Store
    process: subprocess.Popen
    dashboard_pid: int


def epoch_ms(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp() * 1000


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """CPU seconds of the Chromium processes this benchmark started (its descendants), whatever
    else runs on the machine."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            if b"chrom" in Path(f"/proc/{pid}/cmdline").read_bytes():
                total += cpu_seconds(pid)
        except OSError:
            continue
    return total


def seed_long_run(path: Path) -> str:
    """A finished run with LONG_RUN_EVENTS events, inserted directly (each names its seq)."""
    store = storage.open_store(f"sqlite:///{path}")
    run = storage.create_run(store, goal="A long run seeded for the first-render figure")
    after = storage.get_run(store, run_id=run.id).last_seq  # creation may record an event
    store.dispose()
    start = storage.utcnow() - timedelta(hours=2)
    rows = []
    for seq in range(after + 1, after + LONG_RUN_EVENTS + 1):
        token = f"{FIRST_TOKEN}{seq:05d}"
        if seq % 2:
            kind, payload = (
                "model_call",
                {
                    "step": seq // 2 + 1,
                    "text": f"Looking at {token}.",
                    "tool_calls": [],
                    "tokens_in": 100,
                    "tokens_out": 20,
                    "cost_usd": 0.0,
                    "latency_s": 1.0,
                    "model_name": "m",
                },
            )
        else:
            kind, payload = "tool_result", {"tool_call_id": f"c{seq}", "tool": "calculator",
                                            "ok": True, "output": token, "duration_s": 0.01,
                                            "outcome": "ok"}  # fmt: skip
        at = (start + timedelta(seconds=seq)).strftime("%Y-%m-%d %H:%M:%S.%f")
        rows.append((run.id, seq, kind, at, json.dumps(payload), payload.get("tool"), None))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO events (run_id, seq, kind, at, payload, tool, verdict) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute(
        "UPDATE runs SET status = 'succeeded', last_seq = ?, steps = ?, started_at = ?, "
        "finished_at = ?, result = 'done' WHERE id = ?",
        (after + LONG_RUN_EVENTS, LONG_RUN_EVENTS // 2, rows[0][3], rows[-1][3], run.id),
    )
    conn.execute("COMMIT")
    conn.close()
    return run.id


def add_waiting_runs(store: storage.Store, count: int, label: str = "Idle") -> list[str]:
    """Runs waiting for a person (nobody drives them): what an idle open Run page watches."""
    ids = []
    for i in range(count):
        run = storage.create_run(store, goal=f"{label} run {i} waiting for a person")
        storage.update_run(store, run_id=run.id, status="waiting", started_at=storage.utcnow())
        ids.append(run.id)
    return ids


@contextmanager
def onloop_up(folder: Path, model_url: str, concurrency: int) -> Iterator[Server]:
    port = _free_port()
    db = folder / "onloop.db"
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": model_url}
    env.pop("ONLOOP_DATABASE_URL", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--db", str(db)]
    command += ["--concurrency", str(concurrency)]
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first = process.stdout.readline() if process.stdout else ""
    if not first.startswith("onloop is up"):
        process.kill()
        raise SystemExit(f"onloop up did not start: {first}{process.communicate()[0]}")
    dashboards = [pid for pid in _children(process.pid) if _is_streamlit(pid)]
    store = storage.open_store(f"sqlite:///{db}")
    try:
        yield Server(f"http://127.0.0.1:{port}", store, process, dashboards[0])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        store.dispose()


def _is_streamlit(pid: int) -> bool:
    try:
        return b"streamlit" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def script_model(fake: FakeOpenAIServer, calls: int, delay: float) -> None:
    """`calls` replies, each one calculator call with a unique number and a unique short text
    (so no repetition monitor trips); the text streams, the number does not."""
    fake.script(
        [
            Reply(
                text=f"Checking figure {n}.",
                tool_calls=[
                    {"name": "calculator", "arguments": {"expression": f"{STEP_TOKEN}{n:06d}+0"}}
                ],
                delay_s=delay,
            )
            for n in range(1, calls + 1)
        ]
    )


def token_commits(store: storage.Store, run_ids: list[str]) -> dict[str, tuple[str, float]]:
    """Each step token -> (run id, commit time in epoch ms of the first event that carried it)."""
    first: dict[str, tuple[str, float]] = {}
    pattern = re.compile(rf"{STEP_TOKEN}\d{{6}}")
    for run_id in run_ids:
        for record in storage.events_after(store, run_id=run_id):
            for token in pattern.findall(json.dumps(record.payload)):
                at = epoch_ms(record.at)
                if token not in first or at < first[token][1]:
                    first[token] = (run_id, at)
    return first


def now_ms() -> float:
    return time.time() * 1000


def open_pages(context: Any, urls: list[str], ready: Callable[[Any], None]) -> list[Any]:
    pages = []
    for url in urls:
        page = context.new_page()
        page.add_init_script(OBSERVER)
        page.goto(url, wait_until="domcontentloaded")
        pages.append(page)
    for page in pages:
        ready(page)
    return pages


def wait_for_token(page: Any, prefix: str, timeout_s: float = 60) -> bool:
    """Wait until the page shows some text starting with `prefix`; False (and a note) if not."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            f"Object.keys(window.__seen).some(k => k.startsWith('{prefix}'))",
            timeout=timeout_s * 1000,
        )
    except PlaywrightTimeout:
        print(f"  note: {page.url} showed no {prefix}… text within {timeout_s:g} s")
        return False
    return True


def step_latency(
    server: Server, context: Any, runs: list[str], pages: int, window: float
) -> dict[str, float]:
    """Step-to-screen latency over `window` seconds with `pages` Run pages on the active runs."""
    watched = [runs[i % len(runs)] for i in range(pages)]
    stalled = [r for r in runs if storage.get_run(server.store, run_id=r).status != "running"]
    if stalled:
        raise SystemExit(f"benchmark runs stopped stepping: {describe_runs(server, stalled)}")
    opened = open_pages(
        context,
        [f"{server.url}/?run={run_id}" for run_id in watched],
        lambda page: wait_for_token(page, STEP_TOKEN),
    )
    time.sleep(3)  # settle: the first refreshes after load redraw what the page loaded with
    began = now_ms()
    dashboard_cpu, browser_cpu = cpu_seconds(server.dashboard_pid), browser_cpu_seconds()
    time.sleep(window)
    ended = now_ms()
    span = (ended - began) / 1000
    dashboard_cpu = (cpu_seconds(server.dashboard_pid) - dashboard_cpu) / span * 100
    browser_cpu = (browser_cpu_seconds() - browser_cpu) / span * 100
    time.sleep(5)  # grace for the window's last steps to reach the pages
    latencies, missed = [], 0
    commits = token_commits(server.store, sorted(set(watched)))
    for page, run_id in zip(opened, watched, strict=True):
        seen = page.evaluate("window.__seen")
        for token, (owner, at) in commits.items():
            if owner != run_id or not began <= at <= ended:
                continue
            if token in seen:
                latencies.append((seen[token] - at) / 1000)
            else:
                missed += 1
        page.close()
    return {
        "pages": pages,
        "steps": len(latencies) + missed,
        "missed": missed,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies, default=float("nan")),
        "dashboard_cpu": dashboard_cpu,  # % of one core, the Streamlit process, over the window
        "browser_cpu": browser_cpu,  # % of one core, all of Chromium's processes
    }


def describe_runs(server: Server, runs: list[str]) -> str:
    described = (storage.get_run(server.store, run_id=run_id) for run_id in runs)
    return "; ".join(f"{run.id} {run.status} ({run.reason})" for run in described)


def first_render(server: Server, context: Any, run_id: str, repeat: int) -> list[float]:
    """Seconds from navigation start to the first event text of the long run, per try."""
    times = []
    for _ in range(repeat):
        page = context.new_page()
        page.add_init_script(OBSERVER)
        page.goto(f"{server.url}/?run={run_id}", wait_until="commit")
        if not wait_for_token(page, FIRST_TOKEN, timeout_s=120):
            times.append(float("inf"))
            page.close()
            continue
        times.append(
            page.evaluate("(Math.min(...Object.values(window.__seen)) - performance.timeOrigin)")
            / 1000
        )
        page.close()
    return times


def approvals_lag(
    server: Server, context: Any, run_id: str, samples: int, pages: int
) -> dict[str, float]:
    """Seconds from a committed approval request to the sidebar's new count, on Live pages."""
    base = storage.count_pending_approvals(server.store)
    opened = open_pages(
        context,
        [f"{server.url}/live"] * pages,
        lambda page: page.wait_for_function(
            f"window.__metric.some(([t, v]) => v === '{base}')", timeout=60_000
        ),
    )
    time.sleep(2)
    asked = []
    for k in range(samples):
        approval = storage.create_approval(
            server.store,
            run_id=run_id,
            request_seq=0,
            tool_call_id=f"bench-{k}",
            tool="delete_files",
            arguments={"paths": [f"old-{k}.tmp"]},
            args_hash="0" * 64,
            risk="high",
            summary=f"delete old-{k}.tmp",
        )
        asked.append(epoch_ms(approval.requested_at))
        time.sleep(2.0 + 0.37 * (k % 3))  # off the refresh beat, so samples cover its phase
    time.sleep(3)
    lags = []
    for page in opened:
        changes = page.evaluate("window.__metric")
        for k, at in enumerate(asked):
            shown = [t for t, value in changes if value.isdigit() and int(value) >= base + k + 1]
            lags.append((min(shown) - at) / 1000 if shown else float("inf"))
        page.close()
    return {"samples": len(lags), "p50": percentile(lags, 0.5), "p95": percentile(lags, 0.95)}


def cpu_per_idle_page(
    server: Server, context: Any, urls: list[str], seconds: float, baseline: float
) -> dict[str, float]:
    """The Streamlit process's CPU (% of one core) with these pages open and idle."""
    opened = open_pages(
        context, urls, lambda page: page.wait_for_selector('[data-testid="stMetricValue"]')
    )
    time.sleep(3)
    rate = cpu_rate(server.dashboard_pid, seconds)
    for page in opened:
        page.close()
    pages = len(urls)
    return {"pages": pages, "cpu": rate, "per_page": (rate - baseline) / pages}


def cpu_rate(pid: int, seconds: float) -> float:
    began, cpu = time.monotonic(), cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu) / (time.monotonic() - began) * 100


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_runs(server: Server, count: int) -> list[str]:
    runs = [
        storage.create_run(
            server.store,
            goal=f"Benchmark run {i}: add up the figures",
            model="openai",
            model_name="bench-model",
            max_steps=100_000,
            max_seconds=36_000,
        ).id
        for i in range(count)
    ]
    pattern = re.compile(STEP_TOKEN)

    def all_stepping() -> bool:
        return all(
            any(pattern.search(json.dumps(e.payload)) for e in storage.last_events(
                server.store, run_id=run_id, n=5))
            for run_id in runs
        )  # fmt: skip

    wait_until(all_stepping, 120, "every benchmark run's first step")
    return runs


def halt_all(server: Server, runs: list[str]) -> None:
    for run_id in runs:
        storage.halt_run(server.store, run_id=run_id, by="benchmark")
    finished = set(storage.FINISHED_STATUSES)
    wait_until(
        lambda: set(storage.run_statuses(server.store, run_ids=runs).values()) <= finished,
        60,
        "the benchmark runs to halt",
    )


def fmt(seconds: float) -> str:
    return f"{seconds:.2f} s"


@dataclass
class Bench:
    server: Server
    context: Any
    counts: list[int]
    window: float
    idle_seconds: float
    quick: bool
    long_run: str
    waiting: list[str]
    runs: list[str]
    results: dict[str, Any]


def phase_render(b: Bench) -> None:
    renders = first_render(b.server, b.context, b.long_run, 2 if b.quick else 3)
    b.results["first_render_s"] = renders
    shown = ", ".join(fmt(s) for s in renders)
    print(f"first render of a {LONG_RUN_EVENTS}-event run: {shown} (target <= 2 s)")


def phase_latency(b: Bench) -> None:
    b.results["latency"] = []
    for pages in b.counts:
        f = step_latency(b.server, b.context, b.runs, pages, b.window)
        b.results["latency"].append(f)
        print(
            f"{pages:>3} Run pages: step-to-screen p50 {fmt(f['p50'])}, p95 {fmt(f['p95'])}, "
            f"max {fmt(f['max'])} over {f['steps']} steps, {f['missed']} never shown "
            "(target p95 <= 1 s)"
        )
        print(
            f"      CPU meanwhile: dashboard {f['dashboard_cpu']:.0f} %, Chromium "
            f"{f['browser_cpu']:.0f} % of one core (2 cores in all)"
        )


def phase_approvals(b: Bench) -> None:
    lag = approvals_lag(b.server, b.context, b.waiting[0], 5 if b.quick else 10, 1)
    b.results["approvals_lag"] = lag
    print(
        f"approvals count lag (Live page): p50 {fmt(lag['p50'])}, p95 {fmt(lag['p95'])} "
        f"over {lag['samples']} requests (target <= 1 s)"
    )


def phase_cpu(b: Bench) -> None:
    halt_all(b.server, b.runs)
    time.sleep(3)
    baseline = cpu_rate(b.server.dashboard_pid, b.idle_seconds)
    b.results["cpu_baseline"] = baseline
    print(f"idle server CPU, no page open: {baseline:.2f} % of one core")
    b.results["cpu"] = []
    url = b.server.url
    kinds: list[tuple[str, Callable[[int], str]]] = [
        ("Live", lambda i: f"{url}/live"),
        ("Run (waiting run)", lambda i: f"{url}/?run={b.waiting[i % len(b.waiting)]}"),
    ]
    for label, url_of in kinds:
        for pages in b.counts:
            urls = [url_of(i) for i in range(pages)]
            cpu = cpu_per_idle_page(b.server, b.context, urls, b.idle_seconds, baseline)
            b.results["cpu"].append({"page": label, **cpu})
            print(
                f"{pages:>3} idle {label} pages: server CPU {cpu['cpu']:.1f} % of one core, "
                f"{cpu['per_page']:.2f} % per page (target <= 2 %)"
            )


def open_from_live(server: Server, context: Any, runs: list[str], tries: int) -> list[float]:
    """Seconds from a click on "Open run" in the Live list to that run's first step on screen."""
    times = []
    page = context.new_page()
    page.add_init_script(OBSERVER)
    for attempt in range(tries):
        run_id = runs[attempt % len(runs)]
        page.goto(f"{server.url}/live", wait_until="domcontentloaded")
        link = page.get_by_role("link", name=f"Open run {run_id}")
        link.wait_for()
        page.evaluate("window.__seen = {}")
        clicked = page.evaluate("performance.timeOrigin + performance.now()")
        link.click()
        if not wait_for_token(page, STEP_TOKEN):
            times.append(float("inf"))
            continue
        first = page.evaluate("Math.min(...Object.values(window.__seen))")
        times.append((first - clicked) / 1000)
    page.close()
    return times


def phase_open(b: Bench) -> None:
    """With 50 active runs listed on Live, open one of them from there."""
    add_waiting_runs(b.server.store, max(0, 50 - len(b.runs) - len(b.waiting)), "Extra")
    active = len(storage.list_runs(b.server.store, status=list(storage.ACTIVE_STATUSES), limit=500))
    tries = 2 if b.quick else 4
    times = open_from_live(b.server, b.context, b.runs, tries)
    b.results["open_from_live_s"] = times
    shown = ", ".join(fmt(s) for s in times)
    print(f"open a run from Live ({active} active runs listed): {shown} (click to first step)")
    direct = []  # the same Run pages loaded by address: what Live adds is the difference
    for attempt in range(tries):
        page = b.context.new_page()
        page.add_init_script(OBSERVER)
        page.goto(f"{b.server.url}/?run={b.runs[attempt % len(b.runs)]}", wait_until="commit")
        found = wait_for_token(page, STEP_TOKEN)
        first = "Math.min(...Object.values(window.__seen)) - performance.timeOrigin"
        direct.append(page.evaluate(first) / 1000 if found else float("inf"))
        page.close()
    b.results["open_by_address_s"] = direct
    shown = ", ".join(fmt(s) for s in direct)
    print(f"  the same Run pages opened by address: {shown} (navigation to first step)")


PHASES: dict[str, Callable[[Bench], None]] = {
    "render": phase_render,
    "latency": phase_latency,
    "approvals": phase_approvals,
    "open": phase_open,
    "cpu": phase_cpu,  # last: it halts the active runs
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pages", help="open page counts, comma-separated (1,5,10; with --quick 1,5)"
    )
    parser.add_argument("--runs", type=int, default=6, help="active runs during the latency phases")
    parser.add_argument("--window", type=float, default=40.0, help="seconds measured per phase")
    parser.add_argument("--model-delay", type=float, default=2.0, help="seconds per model call")
    parser.add_argument("--quick", action="store_true", help="short windows; 1 and 5 pages")
    parser.add_argument("--phases", default=",".join(PHASES), help="which figures, in this order")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    pages = args.pages or ("1,5" if args.quick else "1,5,10")
    counts = [int(n) for n in pages.split(",")]
    phases = [name.strip() for name in args.phases.split(",")]
    unknown = [name for name in phases if name not in PHASES]
    if unknown:
        parser.error(f"unknown phase {unknown[0]!r}; choose from {', '.join(PHASES)}")
    window = 20.0 if args.quick and args.window == 40.0 else args.window

    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="onloop-live-bench-"))
    fake = FakeOpenAIServer().start()
    # The SDK drops idle keep-alive connections when a run ends: not worth a traceback each.
    fake._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
    script_model(fake, 20_000, args.model_delay)
    db = folder / "onloop.db"
    storage.open_store(f"sqlite:///{db}").dispose()
    long_run = seed_long_run(db)
    with storage.open_store(f"sqlite:///{db}") as seeding:
        waiting = add_waiting_runs(seeding, max(counts))
    print(f"store {db}: a {LONG_RUN_EVENTS}-event run and {len(waiting)} waiting runs seeded")
    results: dict[str, Any] = {"pages": counts, "window_s": window, "runs": args.runs}
    try:
        with onloop_up(folder, fake.base_url, args.runs) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(60_000)
            runs = start_runs(server, args.runs)
            print(
                f"onloop up at {server.url} (dashboard pid {server.dashboard_pid}); "
                f"{len(runs)} runs stepping every ~{args.model_delay:g} s"
            )
            bench = Bench(
                server, context, counts, window, 10.0 if args.quick else 20.0, args.quick,
                long_run, waiting, runs, results,
            )  # fmt: skip
            for name in phases:
                PHASES[name](bench)
            browser.close()
    finally:
        fake.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
