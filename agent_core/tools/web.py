"""fetch_url: one web page as readable text, with size and time caps, and no way to reach this
machine's or its network's private addresses (checked on the resolved address of every hop).

A halt stops it at once (docs/security/halts.md): it is checked before every hop, the store itself
is asked right before each request's bytes leave, and every blocking wait (connect, headers, body)
looks at the call's cancel event at least every 0.1 s (stoppable_http), so no request starts after the halt and
one in flight is cut."""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

from agent_core.tools.context import ToolContext
from agent_core.tools.decorator import tool
from agent_core.tools.errors import ToolCancelled, ToolError
from agent_core.tools.host_names import canonical_host
from agent_core.tools.stoppable_http import stoppable_transport

MAX_BYTES = 2_000_000  # read at most this much of a body
TIMEOUT_S = 20.0  # for the whole fetch, redirects included
MAX_REDIRECTS = 5
USER_AGENT = "onloop-fetch/1 (an agent acting for a person)"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")


@tool(risk="medium")
def fetch_url(url: str, max_chars: int = 20_000, tool_context: ToolContext | None = None) -> str:
    """Fetch a web page (HTTP GET) and return its readable text (HTML as Markdown).

    Args:
        url: The http:// or https:// address of the page.
        max_chars: Return at most this many characters of text (100-100000).
    """
    context = tool_context or ToolContext()
    if not 100 <= max_chars <= 100_000:
        raise ToolError("max_chars must be between 100 and 100000")
    deadline = time.monotonic() + TIMEOUT_S
    transport = stoppable_transport(context, TIMEOUT_S)
    with httpx.Client(transport=transport, follow_redirects=False) as client:
        for hop in range(MAX_REDIRECTS + 1):
            try:
                context.before_sending()
                response, body = _get(client, url, context, redirected=hop > 0, deadline=deadline)
            except ToolCancelled as stopped:
                raise ToolCancelled(
                    f"stopped by a halt while fetching {url}; nothing more was requested"
                ) from stopped
            location = response.headers.get("location")
            if response.is_redirect and location:
                url = urljoin(url, location)
                continue
            return _readable(url, response, body, max_chars)
    raise ToolError(f"more than {MAX_REDIRECTS} redirects; stopped at {url}")


def _get(
    client: httpx.Client, url: str, context: ToolContext, *, redirected: bool, deadline: float
) -> tuple[httpx.Response, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"only http:// and https:// URLs can be fetched, not {url!r}")
    host = canonical_host(parts.hostname)  # the very spelling the policy's rules saw
    if host is None:
        raise ToolError(f"{parts.hostname!r} cannot be read as a host name; check the URL")
    refusal, private_ok = context.url_gate(url, redirected) if context.url_gate else (None, False)
    if refusal:
        raise ToolError(refusal)
    address = _address(host, parts.port or (443 if parts.scheme == "https" else 80), private_ok)
    # Connect to the address just checked (no second DNS answer can swap it), naming the host
    # for the server (Host header) and for TLS (SNI and the certificate check).
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    named = f"[{host}]" if ":" in host else host
    headers = {"Host": named + (f":{parts.port}" if parts.port else ""), "User-Agent": USER_AGENT}
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ToolError(f"fetching took longer than {TIMEOUT_S:g} s")
    request = client.build_request(
        "GET", pinned, headers=headers, timeout=remaining, extensions={"sni_hostname": host}
    )
    try:
        response = client.send(request, stream=True)
        try:
            body = _read_capped(response, deadline, context)
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        raise ToolError(f"{host} did not answer within {TIMEOUT_S:g} s") from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from exc
    return response, body


def _read_capped(response: httpx.Response, deadline: float, context: ToolContext) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        context.raise_if_stopped()
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BYTES:
            break
        if time.monotonic() > deadline:
            raise ToolError(f"fetching took longer than {TIMEOUT_S:g} s")
    return b"".join(chunks)[:MAX_BYTES]


def _address(host: str, port: int, private_ok: bool) -> str:
    """The address to connect to; refused when any address the host has is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ToolError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise ToolError(f"cannot resolve {host}")
    for address in addresses:
        if not private_ok and not _public(address):
            raise ToolError(
                f"{host} is at {address}, a private, loopback or link-local address; fetch_url "
                "refuses those unless a policy rule allows the host "
                '([[rules]] tool = "fetch_url", domains = ["..."], action = "allow")'
            )
    return addresses[0]


# IPv6 prefixes whose last 32 bits are an IPv4 address a gateway or tunnel delivers to: NAT64
# (RFC 6052), IPv4-compatible (deprecated, still tunnelled by sit), IPv4-translated (RFC 2765).
_EMBEDS_IPV4_LAST_32 = tuple(
    ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a site's own translator


def _public(address: str) -> bool:
    """Whether an address is on the public internet, and so is every IPv4 address it carries."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not (ip.is_global and not ip.is_multicast):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        return all(_public(str(v4)) for v4 in _carried_ipv4(ip))
    return True


def _carried_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address hands on: mapped, 6to4, Teredo, NAT64 and the like."""
    carried = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        carried.extend(ip.teredo)  # the Teredo server and the client behind it
    if any(ip in network for network in _EMBEDS_IPV4_LAST_32):
        carried.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return carried


HIDDEN = ("head", "script", "style", "noscript", "template", "iframe", "svg", "img")


def _markdown(html: str) -> str:
    """The visible text of a page as Markdown: scripts, styles and images are left out."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(HIDDEN):
        tag.decompose()
    return MarkdownConverter(heading_style="ATX").convert_soup(soup)


def _readable(url: str, response: httpx.Response, body: bytes, max_chars: int) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and not kind.startswith(TEXT_TYPES):
        raise ToolError(f"{url} is {kind}, not a text page; fetch_url reads only text")
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if kind in ("text/html", "application/xhtml+xml") or (not kind and "<html" in text[:500]):
        text = _markdown(text)
        text = "\n".join(line.rstrip() for line in text.splitlines())
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
    text = text.strip()
    cut = f"\n[... cut at {max_chars} characters]" if len(text) > max_chars else ""
    status = "" if response.is_success else f"HTTP {response.status_code}\n"
    return f"{status}{text[:max_chars]}{cut}"
