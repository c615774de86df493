"""Attacks: a secret printed in an encoding (base64, hex, reversed, URL-encoded...) passed the
redaction of known values; and a secret file's contents were not known to redaction at all."""

from __future__ import annotations

import base64
import binascii
import threading
from urllib.parse import quote, quote_plus

import pytest

from agent_core.oversight.confinement import tool_context
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.oversight.redact import Redactor
from agent_core.run.tool_runner import run_tool
from agent_core.tools import Workspace, builtin_tools

SECRET = "sk_live_9f8e7d6c5b4a/+=?&"  # has bytes that URL-encoding and base64 treat specially
REDACT = Redactor({"PAYMENT_API_KEY": SECRET})
DEFAULT = parse_policy(default_policy_text(), source="defaults")


def b64(data: str, alphabet=base64.b64encode) -> str:
    return alphabet(data.encode()).decode()


ENCODED = {
    "base64": b64(SECRET),
    "base64, 1 byte before": b64("x" + SECRET + "y"),
    "base64, 2 bytes before": b64("KEY=" + SECRET + "\n"),
    "base64 without padding": b64("ab" + SECRET).rstrip("="),
    "urlsafe base64": b64("z" + SECRET, base64.urlsafe_b64encode),
    "urlsafe base64, 2 before": b64("zz" + SECRET, base64.urlsafe_b64encode).rstrip("="),
    "hex": binascii.hexlify(SECRET.encode()).decode(),
    "HEX": binascii.hexlify(SECRET.encode()).decode().upper(),
    "reversed": SECRET[::-1],
    "URL-encoded": quote(SECRET, safe=""),
    "URL-encoded with +": quote_plus("a b" + SECRET),
    "every byte %xx": "".join(f"%{b:02X}" for b in SECRET.encode()),
    "base64 of reversed": b64(SECRET[::-1]),
    "base32": base64.b32encode(("abc" + SECRET).encode()).decode(),
    "inside a longer base64 text": b64("lorem ipsum " * 20 + SECRET + " dolor sit amet" * 9),
}


@pytest.mark.parametrize("form", sorted(ENCODED))
def test_an_encoded_secret_is_redacted(form):
    text = f"output: {ENCODED[form]} end"
    redacted = REDACT(text)
    assert "[redacted PAYMENT_API_KEY" in redacted, (form, redacted)
    assert ENCODED[form] not in redacted


def test_base64_wrapped_into_lines_is_redacted():
    data = "padding " * 7 + SECRET + " trailing text"  # the secret starts at column 75
    wrapped = base64.encodebytes(data.encode()).decode()  # 76-character lines, as `base64` prints
    core = b64(data)[76:96]  # the secret's base64, right after the first line break
    assert b64(data)[70:90] not in wrapped  # split by a line break
    redacted = REDACT(wrapped)
    assert "[redacted PAYMENT_API_KEY (base64)]" in redacted, redacted
    assert core not in redacted and core[:12] not in redacted.replace("\n", "")


def test_ordinary_text_and_other_base64_are_left_alone():
    text = "hello world\n" + b64("an unrelated payload of bytes " * 30) + "\n0123456789abcdef"
    assert REDACT(text) == text


def test_short_values_give_no_encoded_forms_that_match_by_chance():
    redact = Redactor({"PIN_SECRET": "12345678"})
    assert redact("a hex digest 3132333435363738 x") == "a hex digest [redacted PIN_SECRET (hex)] x"
    assert redact("abc SGVs bG8= 87 65") == "abc SGVs bG8= 87 65"


# -- a workspace's secret files are secrets too ------------------------------------------------------


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    (root / "app").mkdir(parents=True)
    (root / "app" / ".env").write_text("# local settings\nDB_PASSWORD='correct-horse-battery'\n")
    (root / "deploy").mkdir()
    body = ["b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", "QyNTUxOQ=="]
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body)
    (root / "deploy" / "id_ed25519").write_text(key + "\n-----END OPENSSH PRIVATE KEY-----\n")
    return Workspace(root)


def _redact(workspace: Workspace):
    return tool_context(DEFAULT, threading.Event(), workspace).redact


@pytest.mark.parametrize(
    "leak",
    [
        "DB_PASSWORD='correct-horse-battery'",  # the file, printed as it is
        "pw is correct-horse-battery.",  # the value alone
        b64("# local settings\nDB_PASSWORD='correct-horse-battery'\n"),  # `base64 app/.env`
        "yrettab-esroh-tcerroc",  # `rev`
        binascii.hexlify(b"correct-horse-battery").decode(),  # `xxd -p`
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",  # `tail` of a key
        b64("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"),
    ],
)
def test_the_values_of_secret_files_are_redacted_from_tool_output(leak, workspace):
    redacted = _redact(workspace)(f"out: {leak}")
    assert "[redacted " in redacted, (leak, redacted)
    assert "correct-horse" not in redacted and "b3BlbnNzaC1rZXkt" not in redacted


def test_a_copy_read_by_an_innocent_name_is_redacted(workspace):
    # An archive unpacked after the policy looked, or a copy made by an approved command:
    # read_file of notes.txt is allowed, and its output still holds no secret.
    copy = workspace.real_root / "notes.txt"
    copy.write_text("backup:\n" + b64("DB_PASSWORD='correct-horse-battery'\n"))
    context = tool_context(DEFAULT, threading.Event(), workspace)
    output = run_tool(
        builtin_tools()["read_file"], {"path": "notes.txt"}, workspace=workspace, context=context
    )
    assert "app/.env line 2" in output and "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5" not in output, output


def test_files_an_operator_only_asks_about_are_not_redacted(tmp_path):
    root = tmp_path / "plain"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hello world from main')\n")
    assert _redact(Workspace(root))("print('hello world from main')") == (
        "print('hello world from main')"
    )
