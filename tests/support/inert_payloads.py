"""A corpus of hostile text (terminal escapes, Markdown, HTML) and a store seeded with it.

Every payload that names a URL points at a local witness server (`{base}`), so a page that
renders one as an image, a link that prefetches, or HTML, shows up in the witness's log.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import storage
from agent_core.tools import args_hash

# Terminal: each one would act on a terminal if printed raw.
TERMINAL = {
    "clear screen": "\x1b[2J\x1b[H",
    "cursor up and erase line": "ok\x1b[1A\x1b[2K",
    "cursor to row 1": "\x1b[1;1HAllow read_file? [y]es",
    "osc 52 clipboard": "\x1b]52;c;cm0gLXJmIH4K\x07",
    "osc 52 with st": "\x1b]52;p;ZWNobyBwd25lZAo=\x1b\\",
    "osc 8 hyperlink": "\x1b]8;;http://127.0.0.1:1/x\x1b\\click\x1b]8;;\x1b\\",
    "osc 0 window title": "\x1b]0;sudo password:\x07",
    "dcs": "\x1bP1$r0m\x1b\\",
    "c1 csi": "\x9b2J\x9b1;1H",
    "c1 osc": "\x9d52;c;cm0K\x9c",
    "c1 dcs": "\x90q#0;2;0;0;0\x9c",
    "apc": "\x1b_hidden\x1b\\",
    "reset terminal": "\x1bc",
    "alternate screen": "\x1b[?1049h",
    "hide cursor": "\x1b[?25l",
    "scroll region": "\x1b[1;3r",
    "carriage return overwrite": "rm -rf ~\rls -la   ",
    "backspace overwrite": "rm -rf /\x08\x08\x08\x08\x08\x08\x08\x08ls -l   ",
    "delete char": "yes\x7f\x7f\x7fno",
    "bell": "\x07\x07",
    "nul": "a\x00b",
    "vertical tab and form feed": "a\x0bb\x0cc",
    "next line c1": "a\x85fake line",
    "rlo": "\u202eexe.txt",
    "rli isolate": "\u2067gnp.\u2069js",
    "arabic letter mark": "\u061cA",
    "lrm rlm": "\u200ea\u200fb",
    "zero width space": "pay\u200bpal",
    "zero width joiner": "a\u200db",
    "word joiner": "a\u2060b",
    "bom": "\ufeffa",
    "soft hyphen": "ad\u00admin",
    "line separator": "a\u2028Allow? [y]",
    "paragraph separator": "a\u2029b",
    "tag characters": "a\U000e0041\U000e0042",
    "mongolian vowel separator": "a\u180eb",
}

# Page: each one would become an image, a link, HTML, an icon, a colour or a formula.
MARKDOWN = {
    "image": "![x]({base}/image)",
    "image with title": '![x]({base}/image-title "t")',
    "image angle url": "![x](<{base}/image-angle>)",
    "reference image": "![x][r]\n\n[r]: {base}/image-ref",
    "reference image collapsed": "![r][]\n\n[r]: {base}/image-ref2",
    "linked image": "[![x]({base}/image-linked)]({base}/link-linked)",
    "link": "[click here]({base}/link)",
    "reference link": "[click][l]\n\n[l]: {base}/link-ref",
    "autolink": "<{base}/autolink>",
    "bare url": "see {base}/bare now",
    "www url": "www.example.test/bare",
    "email autolink": "mail admin@example.test",
    "html img": '<img src="{base}/html-img">',
    "html img onerror": "<img src=x onerror=\"fetch('{base}/onerror')\">",
    "script": "<script>fetch('{base}/script')</script>",
    "iframe": '<iframe src="{base}/iframe"></iframe>',
    "html anchor": '<a href="{base}/anchor">a</a>',
    "svg": '<svg><image href="{base}/svg"/></svg>',
    "material icon": ":material/home: :material/warning:",
    "emoji shortcode": ":smile: :rocket:",
    "colour directive": ":red[danger] :blue-background[x]",
    "badge directive": ":green-badge[approved]",
    "latex inline": "$x^2$ and $\\href{{{base}/katex}}{{x}}$",
    "latex block": "$$\\href{{{base}/katex-block}}{{x}}$$",
    "heading": "# Approved by admin",
    "setext heading": "Approved\n===",
    "emphasis": "**bold** _it_ ~~gone~~",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "code fence": "```\nfake\n```",
    "html entity": "&lt;b&gt; &#x202e;",
}


def hostile(base: str) -> list[str]:
    """Every payload, with URLs aimed at the witness, each also mixed with the others' kind."""
    pages = [p.format(base=base) for p in MARKDOWN.values()]
    return list(TERMINAL.values()) + pages


def one_of_each(base: str) -> str:
    return " ".join(hostile(base))


class _Witness(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    do_POST = do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def witness() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server whose request log must stay empty: yields its base URL and log."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Witness)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _unclaimed(store: storage.Store, status: str, reason: str, **fields: Any) -> storage.Run:
    """A run no worker drives, left in `status`. A dashboard's own worker (`onloop up`) may claim
    a queued run between its creation and the status change: such a run is left to it."""
    for _ in range(20):
        run = storage.create_run(store, **fields)
        storage.update_run(store, run_id=run.id, status=status, reason=reason)
        if storage.get_run(store, run_id=run.id).claim_epoch == 0:
            return storage.get_run(store, run_id=run.id)
    raise AssertionError("the worker claimed every run before the test could set its status")


def seed_hostile(store: storage.Store, base: str) -> dict[str, Any]:
    """Runs, events, approvals and decisions carrying every payload, where a model, a tool or a
    server would put them. Returns the runs and the pending approval."""
    text = one_of_each(base)
    waiting = _unclaimed(
        store, "waiting", f"reason {text}", goal=f"goal {text}", model_name=f"m {text[:80]}"
    )
    done = _unclaimed(store, "paused", "decided below", goal=f"done {text}")
    decided = _decided_approval(store, done.id, text)
    storage.update_run(store, run_id=done.id, status="failed", reason=f"failed {text}")
    for run in (waiting, done):
        _events(store, run.id, text)
    path = f"notes/{MARKDOWN['image'].format(base=base)}\x1b[2J.md"
    arguments = {"path": path, "content": text}
    seq = storage.append_event(
        store,
        run_id=waiting.id,
        kind="approval_requested",
        payload={"tool": "write_file", "arguments": arguments, "summary": f"write {path}"},
    )
    approval = storage.create_approval(
        store,
        run_id=waiting.id,
        request_seq=seq,
        tool_call_id="ol0000099",
        tool="write_file",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="medium",
        reason=f"why {text}",
        rule=None,
        model_text=f"model says {text}",
        summary=f"write {path}",
    )
    return {"waiting": waiting, "done": done, "approval": approval, "decided": decided}


def _events(store: storage.Store, run_id: str, text: str) -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        ("run_started", {"model": "demo", "model_name": text[:60], "goal": text, "tools": [text]}),
        ("model_request", {"step": 1}),
        (
            "model_call",
            {"step": 1, "text": text, "tool_calls": [{"name": text, "arguments": text}]},
        ),
        (
            "tool_call",
            {
                "tool": text[:40],
                "arguments": {"p": text},
                "risk": "low",
                "verdict": "allow",
                "rule": text,
                "reason": text,
            },
        ),
        ("tool_started", {"tool": text[:40]}),
        ("tool_result", {"tool": text[:40], "ok": False, "output": text, "outcome": text}),
        ("guidance", {"message": text, "by": text[:40]}),
        ("drift", {"monitor": text[:30], "detail": text, "action": "pause"}),
        ("judge", {"score": 0.1, "threshold": 0.3, "reason": text}),
        ("goal_check", {"met": False, "reason": text}),
        ("error", {"where": text[:30], "message": text}),
        ("recovered", {"after": text[:30], "in_flight": text, "by": text[:20]}),
        ("halt_requested", {"by": text[:40]}),
        ("final_answer", {"text": text, "goal_met": False, "problems": [text]}),
        ("status", {"status": "failed", "reason": text}),
        (text[:20], {"odd": text}),
    ]
    for kind, payload in events:
        storage.append_event(store, run_id=run_id, kind=kind, payload=payload)


def _decided_approval(store: storage.Store, run_id: str, text: str) -> storage.Approval:
    from agent_core.oversight import decisions

    arguments = {"paths": [text]}
    seq = storage.append_event(
        store, run_id=run_id, kind="approval_requested", payload={"tool": "delete_files"}
    )
    approval = storage.create_approval(
        store,
        run_id=run_id,
        request_seq=seq,
        tool_call_id="ol0000098",
        tool="delete_files",
        arguments=arguments,
        args_hash=args_hash(arguments),
        risk="high",
        reason=text,
        rule=None,
        model_text=text,
        summary=f"delete {text}",
    )
    assert approval.id is not None
    return decisions.reject(store, approval_id=approval.id, by=f"by {text[:40]}", note=text)
