"""What the eye checks, checked in real Chromium over a seeded dashboard: History's columns fit at
1440 px, nothing on Live is cut off on a phone, Insights' axes start at zero in whole counts."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_accessibility import chromium, seeded_dashboard  # noqa: F401  (fixtures)
from tests.browser.test_journeys import ARTIFACTS, _wait_until_idle

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# Elements in the main area whose text is cut off: wider inside than their box, overflow hidden.
CLIPPED = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] *'))
  .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible'
    && !e.closest('[data-testid="stCode"], [data-testid="stDataFrame"]'))
  .map(e => e.innerText.slice(0, 80))"""
# Each chart's title and the labels of its ticks on the axis that counts.
TICKS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => ({
  title: (p.querySelector('.gtitle') || {}).textContent || '',
  y: Array.from(p.querySelectorAll('.yaxislayer-above .ytick text'), t => t.textContent),
  y2: Array.from(p.querySelectorAll('.y2tick text'), t => t.textContent),
  x: Array.from(p.querySelectorAll('.xaxislayer-above .xtick text'), t => t.textContent),
}))"""
COUNTS = {"Runs per day by outcome": "y", "Drift stops by monitor": "y", "Most used tools": "x"}


def open_page(browser, url: str, viewport: dict, selector: str, request):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.locator(selector).first.wait_for()
    _wait_until_idle(page)
    request.addfinalizer(context.close)
    return page


def keep(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"layout-{name}.png"))


def test_history_columns_fit_at_1440(seeded_dashboard, request):  # noqa: F811
    url, _, browser = seeded_dashboard
    page = open_page(browser, f"{url}/history", DESKTOP, '[data-testid="stDataFrame"]', request)
    page.get_by_text("Summarise the notes, day 4").first.wait_for(state="attached")
    widths = page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'),
             e => [e.scrollWidth, e.clientWidth])"""
    )
    keep(page, "history-1440")
    assert widths and all(inside <= box for inside, box in widths), widths


def test_live_cuts_nothing_off_on_a_phone(seeded_dashboard, request):  # noqa: F811
    url, _, browser = seeded_dashboard
    page = open_page(browser, f"{url}/live", PHONE, "text=Clean up temporary files", request)
    page.get_by_text("runs need you").first.wait_for()
    keep(page, "live-390")
    assert page.evaluate(CLIPPED) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def test_insights_axes_start_at_zero_in_whole_counts(seeded_dashboard, request):  # noqa: F811
    url, _, browser = seeded_dashboard
    page = open_page(browser, f"{url}/insights", DESKTOP, "text=How often onloop asks", request)
    page.locator(".js-plotly-plot .gtitle", has_text="Most used tools").wait_for()
    charts = {c["title"]: c for c in page.evaluate(TICKS)}
    for title, axis in COUNTS.items():
        ticks = charts[title][axis]
        assert ticks[0] == "0", (title, ticks)
        assert all(re.fullmatch(r"[0-9,]+", t) for t in ticks), (title, ticks)
    usage = charts["Tokens and cost per day"]
    assert usage["y"][0] == "0" and usage["y2"][0] == "$0.000", usage
    ticks = [t for c in charts.values() for axis in ("x", "y", "y2") for t in c[axis]]
    assert not [t for t in ticks if t.startswith(("-", "\u2212"))], ticks
