"""In a real browser: every page shows the hostile corpus as text. A local witness server named
by every payload's URL must see no request, and no link or image comes from payload text."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from tests.browser.test_journeys import page, serving  # noqa: F401  (fixture)
from tests.support.inert_payloads import MARKDOWN, TERMINAL, one_of_each, seed_hostile, witness

pytestmark = pytest.mark.browser

# Elements the page draws from Markdown; none may point at the witness or come from payloads.
ACTIVE = """base => ({
  links: Array.from(document.querySelectorAll('a[href]'), a => a.href).filter(h => h.includes(base)
    || h.includes('example.test') || h.startsWith('mailto:')),
  images: Array.from(document.querySelectorAll('img[src], image, iframe, script[src]'),
    e => e.getAttribute('src') || e.getAttribute('href') || '').filter(s => s.includes(base)),
  headings: Array.from(document.querySelectorAll('h1, h2, h3'), h => h.innerText)
    .filter(t => t.includes('Approved')),
  katex: document.querySelectorAll('.katex').length,
  bidi: (document.body.innerText.match(/[\\u202a-\\u202e\\u2066-\\u2069\\u200b\\u2028]/g) || []).length,
})"""


@pytest.fixture
def hostile_dashboard(tmp_path):
    """`onloop up` over a store seeded with the corpus, and a policy whose MCP server fails
    writing the corpus to stderr (the Launch and Policy pages show its error)."""
    with witness() as (base, seen):
        payload = one_of_each(base)
        crash = f"import sys; sys.stderr.write({payload!r}); sys.exit(3)"
        (tmp_path / "onloop.toml").write_text(
            f'[[mcp_servers]]\nname = "broken"\ncommand = {json.dumps([sys.executable, "-c", crash])}\n'
        )
        env = {**os.environ}
        for name in ("ONLOOP_DATABASE_URL", "ONLOOP_POLICY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(name, None)
        with serving(tmp_path, env) as (url, store, _):
            seeded = seed_hostile(store, base)
            yield url, base, seen, seeded


def test_every_page_shows_the_corpus_without_fetching_or_linking(hostile_dashboard, page):  # noqa: F811
    url, base, seen, seeded = hostile_dashboard
    waiting, done = seeded["waiting"].id, seeded["done"].id
    visits = {
        "launch": (f"{url}/launch", "MCP server broken"),
        "live": (f"{url}/live", "goal"),
        "approvals": (f"{url}/approvals", "model says"),
        "run waiting": (f"{url}/?run={waiting}", "Run " + waiting),
        "run done": (f"{url}/?run={done}", "Run " + done),
        "history": (f"{url}/history", "History"),
        "insights": (f"{url}/insights", "Insights"),
        "policy": (f"{url}/policy", "Policy"),
    }
    found = {}
    for name, (address, marker) in visits.items():
        page.goto(address)
        page.get_by_text(marker, exact=False).first.wait_for()
        time.sleep(1.0)  # refreshes, toasts and lazy images get their chance
        found[name] = page.evaluate(ACTIVE, base)
    time.sleep(1.0)
    problems = {name: {k: v for k, v in result.items() if v} for name, result in found.items()}
    assert seen == [], f"the witness was asked for {seen}"
    assert all(not p for p in problems.values()), problems
    assert len(TERMINAL) + len(MARKDOWN) >= 60  # the corpus did go through every page
