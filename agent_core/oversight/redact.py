"""The redactor: secret values never reach the store, the screen or the model.

Redacted: the values of the worker's secret-like environment variables (names containing KEY,
TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL or AUTH, and database URLs' passwords), the values of
the environment variables a policy names in `[sandbox] secret_env`, text matching a policy's
`[sandbox] secret_patterns` (regexes), and well-known credential shapes (private key blocks,
OpenAI/GitHub/AWS/Slack tokens).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agent_core.models.environment import environment_now
from agent_core.oversight import user_regex
from agent_core.oversight.encodings import (
    WRAPPED,
    dump_blocks,
    encoded_forms,
    loose_needles,
    loose_spans,
    packed_blobs,
    skeleton,
)

SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
MIN_SECRET_CHARS = 8  # shorter values ("1", "true", "dev") would redact ordinary words
MIN_URL_PASSWORD_CHARS = 4
LOOSE_WINDOW = 16_384  # characters of output walked at a time for a loosely spelled secret
KNOWN_SHAPES = (
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    r"\bgithub_pat_[A-Za-z0-9_]{30,}",
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
)
SEEN_CHARS = 200  # texts up to this long are remembered redacted, per redactor
SEEN_CAP = 4_096  # remembered texts per redactor (forgotten all at once past it)
_LEAVES = frozenset({int, float, bool, type(None)})
WRAP_LABELS = tuple(f"{how})]" for how in WRAPPED)
_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/:@\s]*:([^@\s]+)@", re.IGNORECASE)


class Redactor:
    """Replaces each secret with `[redacted NAME]` (or `[redacted]` for a pattern match), and
    each common encoding of a secret value with `[redacted NAME (base64)]` and the like."""

    def __init__(self, secrets: Mapping[str, str], patterns: Iterable[str] = ()) -> None:
        self._secrets = dict(secrets)
        self._patterns = tuple(patterns)
        self._names = {value: name for name, value in secrets.items()}
        literal = [re.escape(v) for v in sorted(self._names, key=len, reverse=True)]
        parts = [f"(?P<literal>{'|'.join(literal)})"] if literal else []
        parts += [f"(?:{p})" for p in KNOWN_SHAPES]
        self._pattern = re.compile("|".join(parts))
        self._encoded = {
            form: f"[redacted {name} ({how})]"
            for value, name in self._names.items()
            for form, how in encoded_forms(value).items()
        }
        self._wrappable = [f for f, label in self._encoded.items() if label.endswith(WRAP_LABELS)]
        self._loose = {
            needle: f"[redacted {name} ({how})]"
            for value, name in self._names.items()
            for needle, how in loose_needles(value).items()
        }
        self._dumped = {
            form: f"[redacted {name} (hex dump)]"
            for value, name in self._names.items()
            for form in (value.encode(), value.encode("utf-16-le"), value.encode("utf-16-be"))
            if len(value) >= MIN_SECRET_CHARS
        }
        self._seen: dict[str, str] = {}  # short texts already redacted (payload keys, names)

    def with_secrets(self, more: Mapping[str, str]) -> Redactor:
        """This redactor with more secret values (a secret file's contents) added."""
        return _with_secrets(self, tuple(more.items())) if more else self

    def __call__(self, text: str) -> str:
        if not text:
            return text
        try:
            text = self._decoded_forms(self._substituted(text))
        except user_regex.PatternTooSlow as slow:  # what it would have hidden is unknown
            return f"[withheld: {slow}]"
        return self._loosely_spelled(self._hex_dumps(self._packed(text)))

    def _substituted(self, text: str) -> str:
        """Every secret value, known credential shape and secret pattern match replaced.

        A person's secret patterns run on text a model or a tool wrote, each on its own (an
        alternation would hide from the engine the literal a pattern needs, and backtrack at
        every position) and with a time limit: PatternTooSlow when one cannot finish in time."""
        text = self._pattern.sub(self._replacement, text)
        for pattern in self._patterns:
            text = user_regex.replaced(pattern, "[redacted]", text)
        return text

    def preview(self, text: str) -> str:
        """Text still being written (a streaming turn's output so far): redacted, and cut where a
        secret value may be starting, so a secret's first half is never shown before its second
        arrives (the next preview shows it redacted whole)."""
        shown = self(text)
        cut = len(shown)
        for value in filter(None, self._names):
            start = max(len(shown) - len(value) + 1, 0)
            at = shown.find(value[0], start, cut)
            while at >= 0:
                if value.startswith(shown[at:]):
                    cut = at
                    break
                at = shown.find(value[0], at + 1, cut)
        return shown[:cut]

    def _packed(self, text: str) -> str:
        """gzip or zlib data written in base64 whose inflated text holds a secret: replaced."""
        if not self._names:
            return text
        for start, end, inflated in reversed(packed_blobs(text)):
            shown = self._decoded_forms(self._substituted(inflated))
            if shown != inflated:
                names = sorted(set(re.findall(r"\[redacted ([^\]()]+?)(?: \(|\])", shown)))
                label = ", ".join(names) or "secret"
                text = f"{text[:start]}[redacted {label} (compressed, base64)]{text[end:]}"
        return text

    def _loosely_spelled(self, text: str) -> str:
        """A secret split over lines, spaced out, coloured, escaped (\\u0073, &#115;, %2573),
        upper-cased or ROT13'd: found in the text's skeleton, then replaced where it lies."""
        if not self._loose:
            return text
        flat = skeleton(text)
        present = {n: label for n, label in self._loose.items() if n in flat}
        if not present:
            return text
        spans = sorted(_windowed_spans(text, present))
        pieces, done = [], 0
        for start, end, needle in spans:
            if start < done:  # overlaps one already replaced
                continue
            pieces += [text[done:start], present[needle]]
            done = end
        return "".join([*pieces, text[done:]])

    def _hex_dumps(self, text: str) -> str:
        """A secret in a hex dump (xxd, od -x, hexdump -C, wrapped xxd -p): its lines replaced."""
        if not self._dumped or len(text) < MIN_SECRET_CHARS * 2:
            return text
        hits: dict[int, str] = {}
        lines = text.split("\n")
        for streams, owners in dump_blocks(lines):
            for form, label in self._dumped.items():
                for stream in streams:
                    at = stream.find(form)
                    while at >= 0:
                        last = owners[at + len(form) - 1]
                        hits.update(dict.fromkeys(range(owners[at], last + 1), label))
                        at = stream.find(form, at + 1)
        if not hits:
            return text
        return "\n".join(hits.get(i, line) for i, line in enumerate(lines))

    def _decoded_forms(self, text: str) -> str:
        """Encoded secrets replaced: a quick `in` scan first, a regex only for what is there."""
        found = [form for form in self._encoded if form in text]
        wrapped: list[str] = []
        if "\n" in text and self._wrappable:  # `base64` wraps its output every 76 characters
            flat = text.replace("\r", "").replace("\n", "")
            wrapped = [f for f in self._wrappable if f not in found and f in flat]
        for form in sorted(found, key=len, reverse=True):
            text = text.replace(form, self._encoded[form])
        if not wrapped:
            return text
        pattern = _wrapped_pattern(tuple(wrapped))
        return pattern.sub(lambda m: self._encoded[re.sub(r"[\r\n]", "", m.group(0))], text)

    def _replacement(self, match: re.Match[str]) -> str:
        literal = match.group("literal") if "literal" in self._pattern.groupindex else None
        return f"[redacted {self._names[literal]}]" if literal else "[redacted]"

    def payload(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) redacted: a short text seen
        before (a key, a tool's name) is looked up, not redacted again; numbers pass at once."""
        kind = type(value)
        if kind is str:
            return self._short(value) if len(value) <= SEEN_CHARS else self(value)
        if kind is dict:
            return {self.payload(k): self.payload(v) for k, v in value.items()}
        if kind is list or kind is tuple:
            return [self.payload(v) for v in value]
        if kind in _LEAVES:
            return value
        return self._payload_of_subtype(value)

    def _payload_of_subtype(self, value: Any) -> Any:
        """A str, dict, list or tuple of a subtype (an enum's value): redacted the long way."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.payload(k): self.payload(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.payload(v) for v in value]
        return value

    def _short(self, text: str) -> str:
        """A short text redacted once per redactor (a pure function of the text)."""
        done = self._seen.get(text)
        if done is None:
            done = self(text)
            if len(self._seen) >= SEEN_CAP:
                self._seen.clear()
            self._seen[text] = done
        return done


def _windowed_spans(text: str, present: dict[str, str]) -> list[tuple[int, int, str]]:
    """Where the loosely spelled needles lie: looked for in overlapping windows first (the walk
    is slow on a megabyte), in the whole text only for a needle spread wider than a window."""
    if len(text) <= 2 * LOOSE_WINDOW:
        return loose_spans(text, present)
    spans: set[tuple[int, int, str]] = set()
    for start in range(0, len(text), LOOSE_WINDOW // 2):
        chunk = text[start : start + LOOSE_WINDOW]
        flat = skeleton(chunk)
        here = {n: label for n, label in present.items() if n in flat}
        if here:
            spans.update((a + start, b + start, n) for a, b, n in loose_spans(chunk, here))
        if start + LOOSE_WINDOW >= len(text):
            break
    spread = {n: label for n, label in present.items() if all(n != s[2] for s in spans)}
    return [*spans, *(loose_spans(text, spread) if spread else [])]


@functools.lru_cache(maxsize=64)
def _wrapped_pattern(wrapped: tuple[str, ...]) -> re.Pattern[str]:
    """The encoded forms with a line break allowed between any two characters."""
    forms = ["\r?\n?".join(re.escape(c) for c in form) for form in wrapped]
    return re.compile("|".join(sorted(forms, key=len, reverse=True)))


def secret_values(environ: Mapping[str, str], extra_names: Iterable[str] = ()) -> dict[str, str]:
    """The secret values in an environment, by the variable that holds them."""
    named = {n.upper() for n in extra_names}
    found: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper in named and value.strip():
            found[name] = value
        elif any(marker in upper for marker in SECRET_MARKERS) and _looks_secret(value):
            found[name] = value
        url = _URL_PASSWORD.match(value)
        if url and len(url.group(1)) >= MIN_URL_PASSWORD_CHARS:
            found[f"{name} password"] = url.group(1)
            found[name] = value
        found.update(_query_credentials(name, value))
    return {name: value for name, value in found.items() if _meaningful(value, name in named)}


def _query_credentials(name: str, value: str) -> dict[str, str]:
    """A URL's query values named like credentials (`?api-key=`, `access_token=`, a SAS `sig=`):
    a proxy or a signed URL carries its secret there, in a variable named OPENAI_BASE_URL."""
    if "?" not in value or not _URL_SCHEME.match(value):
        return {}
    found = {}
    for key, given in parse_qsl(urlsplit(value).query):
        upper = key.upper()
        secret = any(m in upper for m in SECRET_MARKERS) or upper in ("SIG", "SIGNATURE")
        if secret and len(given) >= MIN_URL_PASSWORD_CHARS:
            found[f"{name} {key}"] = given
    return found


def _looks_secret(value: str) -> bool:
    """A secret-named variable's value worth redacting: not short, not a path (SSH_AUTH_SOCK),
    not a short plain word (ONLOOP_AUTH=disabled) that would redact ordinary text."""
    if len(value) < MIN_SECRET_CHARS or value.startswith(("/", "~")):
        return False
    return not (value.isalpha() and len(value) < 16)


def _meaningful(value: str, configured: bool) -> bool:
    return bool(value.strip()) and (configured or len(value) >= MIN_URL_PASSWORD_CHARS)


def redactor_for(secret_env: Iterable[str] = (), secret_patterns: Iterable[str] = ()) -> Redactor:
    """The redactor for this worker's environment as it is now (a secret set since is known)
    plus a policy's configured secrets: built again only when the environment changed."""
    return _cached(environment_now(), tuple(secret_env), tuple(secret_patterns))


@functools.lru_cache(maxsize=32)
def _cached(env: tuple, names: tuple[str, ...], patterns: tuple[str, ...]) -> Redactor:
    decoded = {_text(name): _text(value) for name, value in env}
    return Redactor(secret_values(dict(sorted(decoded.items())), names), patterns)


def _text(value: str | bytes) -> str:
    """As os.environ shows it (the file system's encoding, undecodable bytes escaped)."""
    return os.fsdecode(value)


@functools.lru_cache(maxsize=64)
def _with_secrets(base: Redactor, more: tuple[tuple[str, str], ...]) -> Redactor:
    """`base` with more secret values: one build per set of values (a run's secret files are
    read again before each tool call; they rarely change)."""
    return Redactor({**base._secrets, **dict(more)}, base._patterns)
