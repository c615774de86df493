"""One spelling per host, for domain rules: the URL's host and the rule's pattern both pass here.

A host is percent-decoded, its full stops unified (U+3002, U+FF0E, U+FF61 are dots in UTS-46),
IDNA-encoded (UTS-46 mapping, IDNA 2008, non-transitional: the ASCII form a resolver asks for),
lower-cased, with trailing dots removed. An address is written one way: IPv4 spellings a resolver
accepts (one number, hex or octal parts, a.b or a.b.c) as dotted decimal, IPv6 compressed, an
IPv4-mapped IPv6 address as its IPv4 address. A host with no fair reading (spaces, controls,
zero-width characters, a backslash) has no canonical form: rules treat it as unknown.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import unicodedata
from urllib.parse import unquote, urlsplit

import idna

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_NUMERIC = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")
_ASCII_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_GLOB = re.compile(r"[*?\[\]]")


@functools.lru_cache(maxsize=4096)
def canonical_host(host: str) -> str | None:
    """The one spelling of `host` rules compare, or None when it cannot be read as a host."""
    text = unquote(host.strip()).translate(_DOTS)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = _address(text)
    if address is not None:
        return address
    text = unicodedata.normalize("NFKC", text).translate(_DOTS).rstrip(".")
    address = _address(text)  # fullwidth digits become an address only after NFKC
    if address is not None:
        return address
    if not text or any(unicodedata.category(c)[0] in "CZ" for c in text) or "\\" in text:
        return None
    try:
        name = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        name = text.lower()
        if not _ASCII_NAME.fullmatch(name):  # ASCII IDNA dislikes (x_y) is kept; other is not
            return None
    return name.lower().rstrip(".") or None


def _address(text: str) -> str | None:
    """`text` as a canonical IP address, or None when it is not one."""
    candidate = text.lower().rstrip(".")
    if ":" in candidate:
        try:
            ip = ipaddress.IPv6Address(candidate)
        except ValueError:
            return None
        mapped = ip.ipv4_mapped
        return str(mapped) if mapped is not None else str(ip)
    if _NUMERIC.fullmatch(candidate):
        try:  # what getaddrinfo accepts: inet_aton's forms (hex, octal, a.b, a.b.c, one number)
            return socket.inet_ntoa(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


@functools.lru_cache(maxsize=1024)
def canonical_pattern(pattern: str) -> str:
    """A rule's host glob in the same spelling: each label without glob characters made canonical
    (so `*.bücher.example` is `*.xn--bcher-kva.example`); an address pattern as its address."""
    text = pattern.strip()
    if not _GLOB.search(text) or (text.startswith("[") and ":" in text):  # [::1] is no glob
        return canonical_host(text) or text.lower()
    text = unicodedata.normalize("NFKC", unquote(text)).translate(_DOTS).rstrip(".")
    labels = []
    for label in text.split("."):
        if _GLOB.search(label) or not label:
            labels.append(label.lower())
        else:
            labels.append(canonical_host(label) or label.lower())
    return ".".join(labels)


def url_host(url: object) -> str | None:
    """The canonical host a URL names, or None when it names none (or none that can be read)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if not host or "\\" in parts.netloc or "%5c" in parts.netloc.lower():
        return None  # a backslash is a path to some URL parsers and part of the host to others
    return canonical_host(host)
