"""The common encodings of a secret value, as text that redaction can find in a tool's output.

`base64 .env`, `xxd -p`, `rev`, `urlencode`, and base64 of the reversed value all print a secret
in a form the plain value does not match. For base64 and base32 the secret may sit at any byte
offset of the encoded data, so each alignment gives its own core: the characters that depend
only on the secret's bytes (the edges mix in neighbouring bytes and are left out).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import string
import unicodedata
import zlib
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


# -- loosely spelled secrets: split, spaced, coloured, escaped, case-changed, ROT13 ------------------

MIN_LOOSE_CHARS = 12  # shorter skeletons ("debug=true") would match ordinary code loosely spelled
# One unit of text that stands for one character: an escape (\u0073, \x73, \163, &#115;, &#x73;,
# &quot;, %73, %2573), or a single character. ANSI colour codes, line-start dump offsets and the noise
# characters below stand for nothing.
_ESCAPE = (
    r"\\u(?P<u>[0-9a-fA-F]{4})|\\x(?P<x>[0-9a-fA-F]{2})|\\(?P<o>[0-3][0-7]{2})|"
    r"&#(?P<d>[0-9]{1,7});|&#[xX](?P<h>[0-9a-fA-F]{1,6});|(?:%25|%)(?P<p>[0-9a-fA-F]{2})|"
    r"&(?P<n>(?i:quot|amp|lt|gt|apos));"
)
_NAMED = {"quot": '"', "amp": "&", "lt": "<", "gt": ">", "apos": "'"}  # what HTML escapes by name
_NOTHING = (
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|"  # ANSI colour, titles
    r"(?m:^[ \t]*[0-7]{7}(?=[ \t]))|(?m:^[ \t]*[0-9a-fA-F]{8}:?(?=[ \t]))|"  # od, xxd offsets
    r"=\r?\n|"  # quoted-printable soft line break
    r"[\s|>\"'+,\-_.`\\\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
_UNIT = re.compile(f"{_ESCAPE}|(?P<nothing>{_NOTHING})|(?P<char>[\\s\\S])")
_NOISE = re.compile(_NOTHING)
_ESCAPES = re.compile(_ESCAPE)
_ROT13 = str.maketrans(
    string.ascii_letters,
    string.ascii_lowercase[13:]
    + string.ascii_lowercase[:13]
    + string.ascii_uppercase[13:]
    + string.ascii_uppercase[:13],
)


def skeleton(text: str) -> str:
    """`text` with escapes decoded, noise and colour codes removed, width and case folded."""
    decoded = (
        _ESCAPES.sub(_unescape, text) if ("\\" in text or "&" in text or "%" in text) else text
    )
    return _NOISE.sub("", unicodedata.normalize("NFKC", decoded)).casefold()


def loose_needles(value: str) -> dict[str, str]:
    """The skeletons of `value` to look for loosely, with the name of the spelling."""
    plain = skeleton(value)
    if len(plain) < MIN_LOOSE_CHARS:
        return {}
    needles = {plain: "loosely spelled"}
    needles.setdefault(skeleton(value.translate(_ROT13)), "ROT13")
    return needles


def loose_spans(text: str, needles: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, needle) in `text` for each loose occurrence of a needle (a slow walk, run
    only after the skeleton of the whole text is known to hold one)."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for match in _UNIT.finditer(text):
        if match.group("nothing") is not None:
            continue
        unit = match.group(0)
        for char in unit.lower() if unit.isascii() and unit.isalnum() else skeleton(unit):
            parts.append(char)
            starts.append(match.start())
            ends.append(match.end())
    flat = "".join(parts)
    spans = []
    for needle in needles:
        at = flat.find(needle)
        while at >= 0:
            spans.append((starts[at], ends[at + len(needle) - 1], needle))
            at = flat.find(needle, at + len(needle))
    return spans


def _unescape(match: re.Match[str]) -> str:
    if match.group("n") is not None:
        return _NAMED[match.group("n").lower()]
    for group, base in (("u", 16), ("x", 16), ("o", 8), ("d", 10), ("h", 16), ("p", 16)):
        digits = match.group(group)
        if digits is not None:
            code = int(digits, base)
            return chr(code) if code < 0x110000 else match.group(0)
    return match.group(0)


# -- hex dumps: xxd, od -x, hexdump -C, xxd -p wrapped, 73:6b:5f, \x73\x6b --------------------------

_DUMP_LINE = re.compile(
    r"[ \t]*(?:[0-9a-fA-F]{6,8}(?::[ \t]*|[ \t]+))?"  # an offset
    r"(?P<hex>(?:(?:\\x|0x)?[0-9a-fA-F]{2,}(?:[ \t:,]{1,2}(?=(?:\\x|0x)?[0-9a-fA-F]{2})|(?![\w])))+)"
)
MIN_DUMP_HEX = 8  # hex digits a line needs to start a dump (a last line may be shorter)


def dump_blocks(lines: list[str]) -> list[tuple[list[bytes], list[int]]]:
    """Runs of hex-dump lines: each as (byte streams read both ways, the line of each byte).
    od -x prints 16-bit words byte-swapped, so each stream is tried as printed and swapped."""
    blocks: list[tuple[list[bytes], list[int]]] = []
    plain, swapped, owners = bytearray(), bytearray(), list[int]()
    for index, line in enumerate(lines):
        match = _DUMP_LINE.match(line)
        tokens = re.findall(r"(?:\\x|0x)?([0-9a-fA-F]+)", match.group("hex")) if match else []
        digits = sum(len(t) for t in tokens)
        # Not a dump line (a short one only continues a dump): the dump so far ends here.
        if not tokens or any(len(t) % 2 for t in tokens) or (digits < MIN_DUMP_HEX and not owners):
            if len(plain) >= 4:
                blocks.append(([bytes(plain), bytes(swapped)], owners))
            plain, swapped, owners = bytearray(), bytearray(), []
            continue
        for token in tokens:
            data = bytes.fromhex(token)
            plain += data
            swapped += data[::-1] if len(data) == 2 else data
            owners += [index] * len(data)
    if len(plain) >= 4:
        blocks.append(([bytes(plain), bytes(swapped)], owners))
    return blocks


# -- compressed then base64: `gzip -c .env | base64`, Python's zlib.compress + b64encode ----------

# gzip's magic bytes, and zlib's headers (78 01, 5e, 9c, da), as base64 begins them
_PACKED = re.compile(r"(?:H4sI|eA[E-H]|eF[4-7]|eJ[w-z]|eN[o-r])[A-Za-z0-9+/\r\n]{12,}={0,2}")
UNPACK_CAP = 1 << 20  # bytes a packed blob is inflated to, at most
BLOBS_CAP = 32  # packed blobs inflated per output, at most (an output of many is not read past)


def packed_blobs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, inflated text) of each gzip or zlib stream written in base64."""
    found: list[tuple[int, int, str]] = []
    for match in itertools.islice(_PACKED.finditer(text), BLOBS_CAP):
        raw = re.sub(r"\s", "", match.group(0))
        try:
            data = base64.b64decode(raw + "=" * (-len(raw) % 4))
            inflated = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data, UNPACK_CAP)
        except (ValueError, zlib.error):
            continue
        found.append((match.start(), match.end(), inflated.decode("utf-8", errors="replace")))
    return found
