"""How the Run page keeps up with long runs and many viewers, server-side and in real Chromium.

    python benchmarks/run_page.py                       # 2,500- and 20,000-event runs, 1 and 10 pages
    python benchmarks/run_page.py --events 2500 --pages 1 --no-browser   # AppTest only

Seeds a temporary SQLite store with paused runs (an active status no worker touches, so the page's
live fragment refreshes), then measures:
- first render of the Run page in Streamlit's AppTest (server side, median of --repeat);
- in Chromium (Playwright, Debian's chromium) against `streamlit run dashboard/app.py` alone, so
  the dashboard process is the only server: time from navigation to the run's last event being
  visible, DOM nodes and JS heap on the newest page and after paging back 10 pages, failed
  requests (status >= 400) when opening `/run?run=ID` and `/?run=ID`, the dashboard's CPU with
  0, 1 and 10 idle open pages, and step-to-screen latency (a MutationObserver in each page notes
  when an appended event's text appears) with 1 and 10 pages open on their own runs.
Targets: first event <= 2 s; idle CPU per open page <= 2 %; p95 step-to-screen <= 1 s at 10 pages.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from storage.feed import event_page  # noqa: E402
from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
# Records when a marker text first appears in the page (epoch ms), for step-to-screen latency.
OBSERVER = """() => {
  window.__seen = {};
  new MutationObserver(() => {
    for (const m of document.body.innerText.matchAll(/mark-(\\d+)/g)) {
      if (!(m[1] in window.__seen)) window.__seen[m[1]] = Date.now();
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def seed_run(store: storage.Store, events: int, goal: str, status: str = "paused") -> storage.Run:
    """A run with `events` events in the shape of real steps (request, call, tool, result), in
    `status` (no worker runs here, so a paused or running run stays as it is)."""
    run = storage.create_run(store, goal=goal)
    storage.update_run(store, run_id=run.id, status=status, reason="benchmark")
    step = 0
    while storage.get_run(store, run_id=run.id).last_seq < events:
        step += 1
        text = f"Step {step}: reading the next file and noting what it says. " * 3
        for kind, payload in (
            ("model_request", {"step": step}),
            ("model_call", {"step": step, "text": text, "tokens_in": 900, "tokens_out": 60}),
            ("tool_call", {"tool": "read_file", "arguments": {"path": f"f{step}.md"}}),
            ("tool_result", {"tool": "read_file", "ok": True, "output": f"out {step} " * 30}),
        ):
            storage.append_event(store, run_id=run.id, kind=kind, payload=payload)
    storage.update_run(store, run_id=run.id, steps=step)
    return run


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def apptest_first_render(run_id: str, repeat: int) -> float:
    """A new session's first script run of `/?run=ID`. AppTest scans every installed package
    for Streamlit components on each run (~1.5 s here, which a server does once at start):
    that scan is skipped, so the figure is the page's own work."""
    from streamlit import logger
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.testing.v1 import AppTest

    BidiComponentManager.discover_and_register_components = lambda *a, **k: None  # type: ignore[method-assign]

    def once() -> None:
        logger.set_log_level("error")
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
        at.query_params["run"] = run_id
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].value)

    once()  # imports (plotly, pandas) happen once per server process: not part of a page load
    return median_ms(once, repeat)


@contextlib.contextmanager
def dashboard(db_url: str) -> Iterator[tuple[str, int]]:
    """`streamlit run dashboard/app.py` as `onloop up` starts it, without a worker."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ONLOOP_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        for _ in range(600):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read()
                break
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def last_text(run_id: str, store: storage.Store) -> str:
    event = event_page(store, run_id=run_id, n=1)[0]
    return str(event.payload.get("output") or event.payload.get("text") or "").strip()


def open_run(browser, url: str, run_id: str, *wait_texts: str):  # noqa: ANN001
    """A new tab on the run; returns it and the seconds until each of `wait_texts` showed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(300_000)  # ten tabs on a loaded 2-core machine take a while
    start = time.perf_counter()
    page.goto(f"{url}/?run={run_id}", wait_until="commit")
    seen = []
    for text in wait_texts:
        page.get_by_text(text, exact=False).first.wait_for()
        seen.append(time.perf_counter() - start)
    return page, seen


def nodes(page) -> tuple[int, float]:  # noqa: ANN001
    count = page.evaluate("document.getElementsByTagName('*').length")
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
    return count, heap / 2**20


def page_back(page, run_id: str, times: int) -> None:  # noqa: ANN001
    for _ in range(times):
        before = page.get_by_text("Events #", exact=False).first.inner_text()
        page.get_by_role("button", name="Older").click()
        for _ in range(600):
            now = page.get_by_text("Events #", exact=False).first.inner_text()
            if now != before:
                break
            time.sleep(0.05)


def failed_requests(browser, address: str, heading: str) -> list[str]:  # noqa: ANN001
    context = browser.new_context()
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(address)
    page.get_by_role("heading", name=heading).wait_for(timeout=120_000)
    time.sleep(1.0)
    context.close()
    return failed


def idle_cpu(browser, url: str, pid: int, run_id: str, pages: int, seconds: float) -> float:  # noqa: ANN001
    opened = [open_run(browser, url, run_id, "Events #")[0] for _ in range(pages)]
    time.sleep(3.0)  # past the first renders
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    used = (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start) * 100
    for page in opened:
        page.context.close()
    return used


def latency(browser, url: str, store: storage.Store, pages: int, marks: int) -> list[float]:  # noqa: ANN001
    runs = [seed_run(store, 20, f"latency {pages}.{i}", "running") for i in range(pages)]
    opened = [open_run(browser, url, r.id, "Events #")[0] for r in runs]
    for page in opened:
        page.evaluate(OBSERVER)
    sent: dict[str, float] = {}
    mark = 0
    for _ in range(marks):
        for run in runs:
            mark += 1
            sent[str(mark)] = time.time() * 1000
            storage.append_event(
                store, run_id=run.id, kind="guidance", payload={"message": f"mark-{mark}"}
            )
            time.sleep(1.0 / len(runs))  # one new step a second per page, spread out
    time.sleep(5.0)
    seen: dict[str, float] = {}
    for page in opened:
        seen.update(page.evaluate("window.__seen"))
        page.context.close()
    missing = [m for m in sent if m not in seen]
    if missing:
        print(f"    {len(missing)} of {len(sent)} steps never appeared")
    return sorted((seen[m] - sent[m]) / 1000 for m in sent if m in seen)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[2500, 20000])
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--marks", type=int, default=15, help="steps per page for latency")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{folder}/onloop.db"
        os.environ["ONLOOP_DATABASE_URL"] = db_url
        os.environ["ONLOOP_WORKSPACES"] = f"{folder}/workspaces"
        store = storage.open_store(db_url)
        runs = {n: seed_run(store, n, f"a run of {n} events") for n in args.events}
        print(f"Run page first render, server side (AppTest, median of {args.repeat}):")
        for n, run in runs.items():
            print(f"  {n:>6,} events: {apptest_first_render(run.id, args.repeat):7.0f} ms")
        if args.no_browser:
            return
        browse(store, db_url, runs, args)


def browse(store: storage.Store, db_url: str, runs: dict, args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    with dashboard(db_url) as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        warm, _ = open_run(browser, url, next(iter(runs.values())).id, "Events #")
        warm.context.close()
        print("In Chromium (streamlit run dashboard/app.py, no worker):")
        for n, run in runs.items():
            text = last_text(run.id, store)[:40]
            first = f"#{storage.get_run(store, run_id=run.id).last_seq - 99} · "
            times = []
            for _ in range(args.repeat):
                page, seconds = open_run(browser, url, run.id, first, text)
                times.append(seconds)
                page.context.close()
            page, _ = open_run(browser, url, run.id, text)
            newest = nodes(page)
            page_back(page, run.id, 10)
            back = nodes(page)
            page.context.close()
            print(
                f"  {n:>6,} events: first event visible "
                f"{statistics.median(t[0] for t in times):.2f} s, the whole page (100 events) "
                f"{statistics.median(t[1] for t in times):.2f} s (medians of {args.repeat}); DOM {newest[0]:,} nodes ({newest[1]:.0f} MiB JS "
                f"heap), after 10 pages back {back[0]:,} nodes ({back[1]:.0f} MiB)"
            )
        run = next(iter(runs.values()))
        heading = f"Run {run.id}"
        for address in (f"{url}/run?run={run.id}", f"{url}/?run={run.id}"):
            failed = failed_requests(browser, address, heading)
            print(f"  failed requests opening {address.removeprefix(url)}: {failed or 'none'}")
        base = idle_cpu(browser, url, pid, run.id, 0, args.idle_seconds)
        print(f"  dashboard CPU with no page open: {base:.1f} %")
        between = seed_run(store, 100, "a running run between steps", "running")
        for label, watched in (("paused", run), ("running, between steps", between)):
            for pages in args.pages:
                used = idle_cpu(browser, url, pid, watched.id, pages, args.idle_seconds)
                print(
                    f"  dashboard CPU, {pages} page(s) open on a {label} run: {used:.1f} % "
                    f"({(used - base) / pages:.2f} % per page)"
                )
        for pages in args.pages:
            seen = latency(browser, url, store, pages, args.marks)
            print(
                f"  step-to-screen with {pages} page(s), one step a second each: "
                f"p50 {percentile(seen, 0.5):.2f} s, p95 {percentile(seen, 0.95):.2f} s "
                f"({len(seen)} steps)"
            )
        browser.close()


if __name__ == "__main__":
    main()
