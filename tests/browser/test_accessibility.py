"""axe-core (tests/a11y, npm) in real Chromium over every page of the dashboard: no serious or
critical violation. `python -m pytest tests/browser/test_accessibility.py` (docs/dashboard.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storage
from tests.browser.test_journeys import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _free_port,
    _wait_until_idle,
    serving,
)
from tests.support.a11y_seed import seed_every_page
from tests.support.signin_helpers import write_signin_file

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(__file__).parents[1] / "a11y/node_modules/axe-core/axe.min.js").exists(),
        reason="needs axe-core in tests/a11y/node_modules (.ci/run installs it)",
    ),
]
AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
# Rules that fail whatever impact axe gives them: axe calls a skipped heading level "moderate",
# but a screen reader's outline of the page is what people navigate by.
ALWAYS = {"heading-order", "scrollable-region-focusable"}
# Rule id -> the exact selectors axe may not judge there, each with why we cannot fix it.
EXCLUDED: dict[str, list[str]] = {}  # none today: every page is judged whole

# Page -> (path, what the page shows once its content is drawn: a Playwright selector).
PAGES = {
    "launch": ("/", "text=Tools the agent may use"),  # the first page a role may open is at /
    "live": ("/live", "text=Clean up temporary files"),
    "approvals": ("/approvals", "text=delete 3 files"),
    "run": ("/?run={story}", 'pre:has-text("summary.md and a long line")'),  # the step feed
    "run-waiting": ("/?run={waiting}", "text=Clean up temporary files"),
    "history": ("/history", '[data-testid="data-grid-canvas"]'),  # the table draws on a canvas
    "insights": ("/insights", "text=How often onloop asks"),
    "policy": ("/policy", "text=Try a call"),
}

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium for the module (one Playwright per thread: a second would refuse to start)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def seeded_dashboard(tmp_path_factory, chromium) -> Iterator[tuple[str, dict[str, str], Any]]:
    """`onloop up` (demo model) over a store seeded for every page, and the browser."""
    folder = tmp_path_factory.mktemp("a11y")
    store = storage.open_store(str(folder / "onloop.db"))
    ids = {name: run.id for name, run in seed_every_page(store).items()}
    store.dispose()
    env = {**os.environ}
    for name in ("ONLOOP_DATABASE_URL", "ONLOOP_POLICY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    with serving(folder, env) as (url, _, _):
        yield url, ids, chromium


# Code blocks that scroll but take no keyboard focus: a keyboard user cannot read their end.
SCROLLING_BLOCKS = """() => Array.from(document.querySelectorAll('pre'))
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .filter(e => !e.hasAttribute('tabindex')).map(e => e.innerText.slice(0, 60))"""


def axe_violations(page) -> list[dict]:
    """Run axe on the page as it is; the serious and critical violations, excluded ones removed."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING and violation["id"] not in ALWAYS:
            continue
        allowed = EXCLUDED.get(violation["id"], [])
        nodes = [n for n in violation["nodes"] if ", ".join(n["target"]) not in allowed]
        if nodes:
            found.append({**violation, "nodes": nodes})
    return found


def axe_all(page) -> dict[str, list]:
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return {
        v["id"]: [v["impact"], len(v["nodes"]), [n["target"] for n in v["nodes"]]]
        for v in results["violations"]
    }


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {node['target']}: {node['failureSummary'][:300]!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_serious_accessibility_violation(seeded_dashboard, name, size):
    url, ids, browser = seeded_dashboard
    path, marker = PAGES[name]
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(url + path.format(**ids))
        page.locator(marker).first.wait_for()
        _wait_until_idle(page)
        page.get_by_text("Pending approvals").first.wait_for()
        _wait_until_idle(page)
        violations = axe_violations(page)
        if os.environ.get("ONLOOP_AXE_REPORT"):  # every impact, for the figures in the docs
            with open(os.environ["ONLOOP_AXE_REPORT"], "a") as out:
                out.write(json.dumps({"page": f"{name} {size}", "all": axe_all(page)}) + "\n")
        assert not violations, describe(violations)
        assert page.evaluate(SCROLLING_BLOCKS) == []
    finally:
        context.close()


@pytest.fixture(scope="module")
def signin_dashboard(tmp_path_factory, chromium) -> Iterator[tuple[str, Any]]:
    """`onloop up --auth-config`: everyone meets the sign-in page first. The provider is never
    asked (nobody presses Sign in), so it need not run."""
    folder = tmp_path_factory.mktemp("a11y-signin")
    port = _free_port()
    signin = write_signin_file(folder, port=port)
    db = folder / "onloop.db"
    env = {k: v for k, v in os.environ.items() if k not in ("ONLOOP_DATABASE_URL", "ONLOOP_AUTH")}
    command = [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--db", str(db)]
    process = subprocess.Popen(
        [*command, "--auth-config", str(signin)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first = process.stdout.readline() if process.stdout else ""
    try:
        assert first.startswith("onloop is up: http://127.0.0.1:"), first
        yield f"http://127.0.0.1:{port}", chromium
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_signin_page_has_no_serious_accessibility_violation(signin_dashboard, size):
    url, browser = signin_dashboard
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for()
        _wait_until_idle(page)
        violations = axe_violations(page)
        if os.environ.get("ONLOOP_AXE_REPORT"):
            with open(os.environ["ONLOOP_AXE_REPORT"], "a") as out:
                out.write(json.dumps({"page": f"sign-in {size}", "all": axe_all(page)}) + "\n")
        assert not violations, describe(violations)
    finally:
        context.close()
