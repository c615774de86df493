"""Which HTTP transport the openai SDK sends the model's requests on.

The SDK's default transport (httpx) spends more CPU per request than anything else in a
worker's model call: its connection pool looks over every idle connection on each request and
its HTTP/1.1 parser is pure Python. The SDK also ships an aiohttp transport
(`openai.DefaultAioHttpClient`, the `openai[aiohttp]` extra) that sends the same requests for
about 40 % less CPU per call (`benchmarks/http_transport.py`). It is used unless a proxy from
the environment applies to the server (the SDK's aiohttp adapter does not take proxies, httpx
does) or `ONLOOP_MODEL_HTTP=httpx` asks for the SDK's default.

Reading the proxies from the environment walks every variable (~0.3 ms); a worker chooses a
transport for each run's model, so the choice is kept per environment and server: a variable
set or removed since gives a new choice.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import urllib.parse
import urllib.request
from typing import Literal

from agent_core.models.base import ModelError
from agent_core.models.environment import environment_now

ENV = "ONLOOP_MODEL_HTTP"
Transport = Literal["aiohttp", "httpx"]
_DEFAULT_HOST = "api.openai.com"


def http_transport(base_url: str | None) -> Transport:
    """The transport for requests to `base_url` (None: OpenAI's API)."""
    return _chosen(environment_now(), base_url)


@functools.lru_cache(maxsize=32)
def _chosen(_environment: tuple, base_url: str | None) -> Transport:
    """The choice for one environment (only its identity: the cache's key) and server."""
    asked = os.environ.get(ENV, "").strip().lower()
    if asked not in ("", "aiohttp", "httpx"):
        raise ModelError(f"{ENV}={asked!r} is not a transport; set it to aiohttp or httpx")
    if asked == "httpx" or _proxied(base_url):
        return "httpx"
    if importlib.util.find_spec("aiohttp") is None:
        if asked == "aiohttp":
            raise ModelError(f"{ENV}=aiohttp needs aiohttp: pip install 'openai[aiohttp]'")
        return "httpx"
    return "aiohttp"


def _proxied(base_url: str | None) -> bool:
    """Whether a proxy set in the environment (HTTPS_PROXY, ALL_PROXY…, less NO_PROXY) applies
    to the server, as httpx reads them."""
    proxies = urllib.request.getproxies_environment()
    if not proxies:
        return False
    parts = urllib.parse.urlsplit(base_url or f"https://{_DEFAULT_HOST}")
    if not any(key in proxies for key in (parts.scheme, "all")):
        return False
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed
    return not bypass(parts.hostname or "", proxies)
