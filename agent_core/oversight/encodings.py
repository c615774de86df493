"""The common encodings of a secret value, as text that redaction can find in a tool's output.

`base64 .env`, `xxd -p`, `rev`, `urlencode`, and base64 of the reversed value all print a secret
in a form the plain value does not match. For base64 and base32 the secret may sit at any byte
offset of the encoded data, so each alignment gives its own core: the characters that depend
only on the secret's bytes (the edges mix in neighbouring bytes and are left out).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import quote, quote_plus

MIN_ENCODED_CHARS = 8  # shorter encoded cores would match ordinary text by chance
WRAPPED = ("base64", "base32")  # encoders that wrap long output into lines (base64 -w 76)


def _cores(data: bytes, encode: Callable[[bytes], bytes], group: int, bits: int) -> list[str]:
    """The part of `encode(prefix + data)` fixed by `data` alone, for every alignment of data."""
    cores = []
    for offset in range(group):
        text = encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        first = -(-8 * offset // bits)  # characters that still hold prefix bits
        last = 8 * (offset + len(data)) // bits  # characters wholly made of data's bits
        cores.append(text[first:last])
    return cores


def encoded_forms(value: str) -> dict[str, str]:
    """Each encoded spelling of `value` worth looking for, with the name of its encoding."""
    data = value.encode("utf-8")
    forms: dict[str, str] = {}
    for label, raw in (("", data), ("reversed, ", data[::-1])):
        for core in _cores(raw, base64.b64encode, 3, 6):
            forms.setdefault(core, f"{label}base64")
            forms.setdefault(core.replace("+", "-").replace("/", "_"), f"{label}base64")
        for core in _cores(raw, base64.b32encode, 5, 5):
            forms.setdefault(core, f"{label}base32")
        hexed = binascii.hexlify(raw).decode("ascii")
        forms.setdefault(hexed, f"{label}hex")
        forms.setdefault(hexed.upper(), f"{label}hex")
    forms.setdefault(value[::-1], "reversed")
    for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
        forms.setdefault(encoded, "URL-encoded")
    every = "".join(f"%{b:02x}" for b in data)  # every byte escaped, as some encoders do
    forms.setdefault(every, "URL-encoded")
    forms.setdefault(every.upper(), "URL-encoded")
    forms.pop(value, None)  # the plain value is matched as it is
    return {form: how for form, how in forms.items() if len(form) >= MIN_ENCODED_CHARS}
