"""Red-team variants of the inert-text rule (issue 19): what the merged corpus did not list.

Three halves:
- `inert.markdown` in a real browser (Chromium), in every place the dashboard puts it: alone,
  mid-line after our own bold prefix, inside our own list item and table cell, as the body of
  alerts and captions, and as widget labels (expander, tabs, button, checkbox, radio options,
  metric). No payload may add a link, image, heading, list, quote, rule, code, table, formula,
  icon, colour or emphasis to what a plain word renders, and a local witness sees no request.
- `inert.visible` / `inert.markdown` on Unicode and size variants (C1 in UTF-8, lone surrogates,
  zalgo, a 1 MB line) and JSON-escaped ESC that a command decodes before showing it.
- ordinary text still reads the same (a guard that mangles ordinary words is a defect).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_core.oversight import inert
from tests.support.inert_payloads import MARKDOWN, witness

ROOT = Path(__file__).resolve().parents[2]

# New Markdown/HTML variants: GFM autolinks after a delimiter, block starts, Streamlit additions.
NEW_MARKDOWN = {
    "underscore then url": "_{base}/under_",
    "underscore then www": "_www.example.test/under_",
    "star then url": "*{base}/star*",
    "tilde then www": "~www.example.test~",
    "paren then url": "({base}/paren)",
    "url after word char": "x_{base}/mid",
    "uppercase scheme": "HTTP://127.0.0.1:9/upper",
    "mailto scheme": "mailto:admin@example.test",
    "xmpp scheme": "xmpp:admin@example.test",
    "email with dots": "first.last+tag@sub.example.test",
    "www uppercase": "WWW.EXAMPLE.TEST",
    "ordered list dot": "1. first",
    "ordered list paren": "1) first",
    "ordered list big number": "123456789. first",
    "bullet dash": "- item",
    "bullet plus": "+ item",
    "bullet star": "* item",
    "task list": "- [ ] todo",
    "block quote": "> quoted",
    "nested quote list": "> - > 1. deep",
    "thematic break dashes": "---",
    "thematic break spaced": "- - -",
    "thematic break stars": "***",
    "thematic break underscores": "___",
    "setext equals": "===",
    "atx heading no space": "#Approved",
    "atx heading six": "###### Approved",
    "indented code": "    Approved code",
    "tilde fence": "~~~ Approved",
    "backtick code": "`Approved code`",
    "link definition": "[r]: {base}/def",
    "footnote": "text[^1] [^1]: {base}/footnote",
    "html comment": "<!-- hidden --> shown",
    "entity img": "&#60;img src={base}/entity&#62;",
    "named entity link": "&lbrack;x&rbrack;&lpar;{base}/entity-link&rpar;",
    "escaped bracket link": "\\[x\\]({base}/escaped)",
    "double backslash link": "\\\\[x]({base}/double)",
    "inline html span": '<span style="color:red">red</span>',
    "streamlit icon": ":material/delete_forever: :streamlit:",
    "rainbow directive": ":rainbow[boom] :small[tiny] :gray-badge[b]",
    "latex parens": "\\(x^2\\) \\[y\\]",
    "dollar with spaces": "$ x $ and $$y$$",
    "fullwidth brackets": "［x］（{base}/fullwidth）",
    "nbsp before list": "\u00a0- item",
    "ideographic space heading": "\u3000# Approved",
    "zero width in scheme": "http\u200b://127.0.0.1:9/zw",
    "emphasis underscores": "__strong__ _em_",
    "strike single tilde": "~gone~",
    "hard break": "a  \\",
}
PLAIN = "plain words"

# Every place the dashboard puts `inert.markdown` text, each in its own keyed container.
APP = """
import json, os
import streamlit as st
from agent_core.oversight import inert

payloads = json.loads(open(os.environ["ONLOOP_RT_PAYLOADS"]).read())
for i, raw in enumerate(payloads):
    m = inert.markdown(raw)
    places = {
        "alone": lambda: st.markdown(m),
        "prefix": lambda: st.markdown(f"**Goal:** {m}"),
        "listitem": lambda: st.markdown(f"- item {m}"),
        "table": lambda: st.markdown(f"| a |\\n|---|\\n| {m} |"),
        "lines": lambda: st.markdown(f"**Run** x\\n{m}\\n\\n{m}"),
        "warning": lambda: st.warning(m),
        "caption": lambda: st.caption(m),
        "expander": lambda: st.expander(m),
        "tabs": lambda: st.tabs([m, "x"]),
        "button": lambda: st.button(m, key=f"b{i}"),
        "checkbox": lambda: st.checkbox(m, key=f"c{i}"),
        "radio": lambda: st.radio("r", [m, "x"], key=f"r{i}"),
        "metric": lambda: st.metric(m, 1),
    }
    for name, draw in places.items():
        with st.container(key=f"p{i}_{name}"):
            draw()
st.markdown("ALL-DRAWN")
"""
PLACES = (
    "alone prefix listitem table lines warning caption expander tabs button checkbox radio metric"
).split()

# Per container: how many of each element it holds, plus the marks of icons and formulas.
COUNT = """(n) => {
  const out = {};
  for (let i = 0; i < n; i++) {
    for (const place of PLACES) {
      const box = document.querySelector(`.st-key-p${i}_${place}`);
      const tally = {};
      if (box) {
        for (const e of box.querySelectorAll('*')) {
          let name = e.tagName.toLowerCase();
          if (e.classList.contains('katex')) name = 'katex';
          if (e.getAttribute('data-testid') === 'stIconMaterial') name = 'icon';
          if (name === 'span' && e.getAttribute('style')) name = 'styled-span';
          tally[name] = (tally[name] || 0) + 1;
        }
        tally['#links'] = Array.from(box.querySelectorAll('a[href]'), a => a.href);
        tally['#text'] = box.innerText;
      }
      out[`${i}_${place}`] = tally;
    }
  }
  return out;
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.browser
def test_inert_markdown_renders_as_plain_words_in_every_place(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS

    with witness() as (base, seen):
        payloads = [PLAIN] + [
            p.format(base=base) for p in (*MARKDOWN.values(), *NEW_MARKDOWN.values())
        ]
        names = ["plain", *MARKDOWN, *NEW_MARKDOWN]
        (tmp_path / "payloads.json").write_text(json.dumps(payloads))
        (tmp_path / "app.py").write_text(APP)
        port = _free_port()
        env = {
            **os.environ,
            "ONLOOP_RT_PAYLOADS": str(tmp_path / "payloads.json"),
            "PYTHONPATH": str(ROOT),
        }
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py")),
                *("--server.headless", "true", "--server.port", str(port)),
                *("--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                page = browser.new_page()
                page.set_default_timeout(120_000)
                for _ in range(60):
                    try:
                        page.goto(f"http://127.0.0.1:{port}/")
                        break
                    except Exception:  # noqa: BLE001 - the server is still starting
                        time.sleep(0.5)
                page.get_by_text("ALL-DRAWN").wait_for()
                page.wait_for_function(  # every widget drawn, the plain baseline included
                    "n => document.querySelectorAll('[data-testid=stRadio] input').length >= 2 * n",
                    arg=len(payloads),
                )
                time.sleep(2.0)  # lazy images and prefetches get their chance
                counts = page.evaluate(COUNT.replace("PLACES", json.dumps(PLACES)), len(payloads))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
        time.sleep(0.5)
    problems = {}
    for i, name in enumerate(names):
        for place in PLACES:
            base_tally = counts[f"0_{place}"]
            tally = counts[f"{i}_{place}"]
            extra = {
                tag: n - base_tally.get(tag, 0)
                for tag, n in tally.items()
                if not tag.startswith("#") and n > base_tally.get(tag, 0)
            }
            if tally["#links"]:
                extra["#links"] = tally["#links"]
            # An emoji or a symbol the payload did not contain was drawn from a shortcode.
            drawn = {c for c in tally["#text"] if not c.isascii()} - set(payloads[i]) - {"…"}
            if drawn:
                extra["#drawn"] = sorted(drawn)
            if extra:
                problems[f"{name} in {place}"] = extra
    assert seen == [], f"the witness was asked for {seen}"
    assert problems == {}, json.dumps(problems, indent=None)


# What the page's text-level autolinker and icon finder look for, after escapes are undone.
AUTOLINK = __import__("re").compile(
    r"(?i)(https?://|www\.)|[-.\w+]@[-\w]+\.[-\w]|:material[/_]\w+:|:streamlit:"
)


def _unescaped(markdown: str) -> str:
    """The text node the page's plugins see: Markdown backslash escapes undone."""
    return __import__("re").sub(r"\\(.)", r"\1", markdown)


@pytest.mark.parametrize("payload", list(NEW_MARKDOWN.values()), ids=list(NEW_MARKDOWN))
def test_no_autolink_or_icon_survives_in_the_unescaped_text(payload):
    shown = inert.markdown(payload.format(base="http://127.0.0.1:9"))
    assert AUTOLINK.search(_unescaped(shown)) is None, shown


# Terminal and Unicode variants the merged corpus did not list.
TERMINAL_MORE = {
    "c1 csi in utf-8": "a\u009b31mred\u009b0m",
    "c1 st and pm": "\u009ehidden\u009c\u0098sos\u009c",
    "esc via json escape decoded": json.loads('"\\u001b[2J\\u001b]52;c;eA==\\u0007"'),
    "lone surrogate": "a\ud800b",
    "surrogate pair as text": "\U0001f600 ok",
    "interlinear annotation": "a\ufff9hidden\ufffbb",
    "invisible plus and times": "a\u2064b\u2062c",
    "hangul filler": "a\u3164b",  # a Lo letter that draws blank: shown as <U+3164> (variants)
    "variation selector": "a\ufe0fb",
    "bidi pop and embed": "\u202a\u202b\u202c\u202d",
    "tab then esc": "\t\x1b[31m",
    "crlf then cr": "a\r\nb\rc",
}


@pytest.mark.parametrize("payload", list(TERMINAL_MORE.values()), ids=list(TERMINAL_MORE))
def test_more_terminal_variants_act_on_nothing(payload):
    import unicodedata

    acting = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    for shown in (
        inert.visible(payload, newlines=False, tabs=False),
        inert.markdown(payload),
        inert.json_text({"k": payload}),
    ):
        assert [c for c in shown if unicodedata.category(c) in acting] == []
        shown.encode("utf-8")  # a lone surrogate would crash a terminal's encoder here
    assert json.loads(inert.json_text({"k": payload})) == {"k": payload}


def test_zalgo_and_a_megabyte_line_stay_cheap():
    zalgo = "Z" + "\u0301" * 200_000
    long_line = "a" * 1_000_000 + "\x1b[2J"
    assert inert.markdown(zalgo).startswith("Z")
    assert len(inert.markdown(zalgo)) <= 300
    # Cut to 300 before escaping; its end is kept (a padded line's tail), inert.
    assert len(inert.markdown(long_line)) < 320
    assert inert.markdown(long_line).endswith("\\\\x1b\\[2J")
    assert inert.visible(long_line).endswith("\\x1b[2J")
    # The cut happens before escaping, so a page's label never grows without bound.
    assert len(inert.markdown("_" * 1_000_000)) < 700


ORDINARY = {
    "apt-get install a+b": "apt-get install a+b",
    "notes.txt and v1.2.3": "notes.txt and v1.2.3",
    "12:30:45 ERROR:root:failed": "12\\:30\\:45 ERROR\\:root\\:failed",
    "café 日本語": "café 日本語",
    "user@localhost": "user\\@localhost",
}


@pytest.mark.parametrize("text", list(ORDINARY), ids=list(ORDINARY))
def test_ordinary_words_read_the_same(text):
    assert inert.markdown(text) == ORDINARY[text]
    assert _unescaped(inert.markdown(text)) == text


def test_defanged_addresses_still_read_as_addresses():
    shown = _unescaped(inert.markdown("see https://example.test/a, www.example.test, a@b.test"))
    assert shown == "see https[:]//example.test/a, www[.]example.test, a[@]b.test"


def _cli(tmp_path, *args: str | bytes) -> tuple[int, bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("ONLOOP_DATABASE_URL", "ONLOOP_POLICY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def cli_store(tmp_path):
    import storage

    store = storage.open_store(str(tmp_path / "onloop.db"))
    run = storage.create_run(store, goal="an ordinary goal")
    store.dispose()
    return tmp_path, run.id


# Arguments a person pastes from a model's text or a log: raw bytes that are not UTF-8, and
# terminal escapes the command then quotes back in its error line.
NOT_UTF8 = {
    "show c1 byte": ("show", b"\x9b2J"),
    "show json": ("show", "--json", b"\xff\x1b[2J"),
    "approve": ("approve", b"ab\xff"),
    "reject": ("reject", b"\xfe\xfe"),
    "audit run": ("audit", "--run", b"\xc3("),
    "halt": ("halt", b"\xed\xa0\x80"),  # an encoded surrogate: not UTF-8 either
    "resume": ("resume", b"\x80"),
}


@pytest.mark.parametrize("args", list(NOT_UTF8.values()), ids=list(NOT_UTF8))
def test_arguments_that_are_not_utf8_get_one_line_not_a_traceback(cli_store, args):
    folder, _ = cli_store
    code, out = _cli(folder, *args)
    assert code == 2, out
    assert b"Traceback" not in out
    assert b"\x1b" not in out and b"\x9b" not in out.replace(b"\\x9b", b"")
    assert b"is not UTF-8 text" in out


ECHOED = {
    "show id": ("show", "\x1b[2J\u202erun"),
    "runs status": ("runs", "--status", "\x1b]52;c;eA==\x07"),
    "audit run": ("audit", "--run", "\x9b31m"),
    "policy check tool": ("policy", "check", "run_shell\x1b[1A\x1b[2K", "{}"),
    "approve id": ("approve", "\u2028Allow? [y]"),
    "unknown command": ("sh\x1b[2Jow",),
    "bad option value": ("runs", "--limit", "\x1b[2J"),
}


@pytest.mark.parametrize("args", list(ECHOED.values()), ids=list(ECHOED))
def test_error_lines_quote_hostile_arguments_visibly(cli_store, args):
    import unicodedata

    folder, _ = cli_store
    code, out = _cli(folder, *args)
    text = out.decode("utf-8")
    assert code != 0 and "Traceback" not in text
    acting = [c for c in text if c not in "\n" and unicodedata.category(c) in {"Cc", "Cf", "Zl"}]
    assert acting == [], text


def test_ordinary_arguments_still_work(cli_store):
    folder, run_id = cli_store
    code, out = _cli(folder, "show", run_id)
    assert code == 0 and b"an ordinary goal" in out
    code, out = _cli(folder, "runs")
    assert code == 0 and run_id.encode() in out


def _seed_each(store, payloads: list[str]) -> list[str]:
    """One run per payload (goal, reason, events, a pending approval), so no payload is cut off
    behind the others by the 300-character limit of a Markdown line."""
    import storage
    from agent_core.tools import args_hash

    ids = []
    for n, text in enumerate(payloads):
        run = storage.create_run(store, goal=text, model_name=text[:40])
        storage.update_run(store, run_id=run.id, status="waiting", reason=text)
        storage.append_event(store, run_id=run.id, kind="model_call", payload={"text": text})
        storage.append_event(
            store, run_id=run.id, kind="tool_result", payload={"tool": text, "output": text}
        )
        arguments = {"path": text, "content": text}
        seq = storage.append_event(
            store,
            run_id=run.id,
            kind="approval_requested",
            payload={"tool": "write_file", "arguments": arguments, "summary": text},
        )
        storage.create_approval(
            store,
            run_id=run.id,
            request_seq=seq,
            tool_call_id=f"ol{n:07d}",
            tool="write_file",
            arguments=arguments,
            args_hash=args_hash(arguments),
            risk="medium",
            reason=text,
            rule=None,
            model_text=text,
            summary=text,
        )
        ids.append(run.id)
    return ids


@pytest.mark.browser
def test_dashboard_pages_link_nothing_from_each_payload_alone(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.browser.test_inert_pages import ACTIVE
    from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS, serving

    env = {**os.environ}
    for name in ("ONLOOP_DATABASE_URL", "ONLOOP_POLICY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(name, None)
    with witness() as (base, seen), serving(tmp_path, env) as (url, store, _):
        payloads = [p.format(base=base) for p in NEW_MARKDOWN.values()]
        payloads += [MARKDOWN[k].format(base=base) for k in ("www url", "email autolink")]
        ids = _seed_each(store, payloads)
        # Icons the page would draw from text: Streamlit's logo image and material symbols.
        active = ACTIVE.replace(
            "katex:",
            'icons: Array.from(document.querySelectorAll(\'img[alt="Streamlit logo"], '
            "[data-testid=stIconMaterial]'), e => e.alt || e.innerText)"
            ".filter(t => t === 'Streamlit logo' || t === 'delete_forever'),\n  katex:",
        )
        visits = {
            "live": (f"{url}/live", "Live"),
            "approvals": (f"{url}/approvals", "Approvals"),
            "history": (f"{url}/history", "History"),
            **{f"run {n}": (f"{url}/?run={ids[n]}", f"Run {ids[n]}") for n in (0, 3, 5)},
            "missing run": (f"{url}/?run=_www.example.test%20a@example.test", "No run with id"),
        }
        found = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            for name, (address, marker) in visits.items():
                page.goto(address)
                page.get_by_text(marker, exact=False).first.wait_for()
                time.sleep(1.5)
                found[name] = page.evaluate(active, base)
                # The page's own anchors (skip link, heading anchors) repeat its address.
                found[name]["links"] = [h for h in found[name]["links"] if not h.startswith(url)]
            browser.close()
        time.sleep(0.5)
    problems = {name: {k: v for k, v in r.items() if v} for name, r in found.items()}
    assert seen == [], f"the witness was asked for {seen}"
    assert all(not p for p in problems.values()), problems
