"""What the policy says about each URL fetch_url is about to request, redirects included."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from agent_core.oversight.policy import Policy, url_host
from agent_core.tools.host_names import canonical_pattern

WEB_TOOL = "fetch_url"
_GLOB = re.compile(r"[*?\[\]]")


def url_gate(policy: Policy) -> Callable[[str, bool], tuple[str | None, bool]]:
    """A check of one URL: (why it is refused or None, whether private addresses are allowed).

    A deny rule for the URL refuses it; asking is not possible in the middle of a call, so a
    redirect the policy would ask about is refused too unless an allow rule covers it: one to an
    ask rule's host, and one to another host than the call's own (a yes, or a domain scope, was
    for the host the call named; an open redirect there, `?next=https://evil.test`, is no yes
    to evil.test). Private, loopback and link-local addresses need an allow rule that names the
    host in `domains` (names_host): one that matches every host, or every host of a top-level
    domain, does not. One gate serves one call (its first URL is the call's own).
    """
    first: list[str] = []

    def check(url: str, redirected: bool) -> tuple[str | None, bool]:
        arguments = {"url": url}
        host = url_host(url) or url
        if not redirected:
            first[:] = [_bare(host)]
        matching = [r for r in policy.rules if r.matches(WEB_TOOL, arguments)]
        for rule in matching:
            if rule.action == "deny":
                label = rule.name or rule.reason or "a deny rule"
                return f"the policy refuses {host} ({label})", False
        allowed = any(r.action == "allow" for r in matching)
        elsewhere = redirected and _bare(host) not in first
        if redirected and not allowed and (elsewhere or any(r.action == "ask" for r in matching)):
            why = (
                "another host than the one asked for"
                if elsewhere
                else "which the policy asks about"
            )
            return (
                f"the page redirects to {host}, {why}; fetch that URL directly so the policy "
                "decides on it (and a person approves it if it asks)",
                False,
            )
        return None, any(r.action == "allow" and names_host(r.domains, url) for r in matching)

    return check


def _bare(host: str) -> str:
    """A host without its `www.`: `python.org` and `www.python.org` redirect to each other."""
    return host.removeprefix("www.")


def names_host(patterns: list[str], url: str) -> bool:
    """Whether a pattern that matches the URL's host names it: the host or address as written, or
    a glob with at least two labels of its own (`*.corp.example`, `10.0.*`). `*`, `*.com` or `1*`
    also match names anyone can point at 127.0.0.1 or the metadata address, so they name none."""
    host = url_host(url)
    if host is None:
        return False
    for pattern in patterns:
        canonical = canonical_pattern(pattern)
        if not fnmatch.fnmatchcase(host, canonical):
            continue
        own = [label for label in canonical.split(".") if label and not _GLOB.search(label)]
        if not _GLOB.search(canonical) or len(own) >= 2:
            return True
    return False
