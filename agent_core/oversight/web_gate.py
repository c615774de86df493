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
    redirect the policy would ask about is refused too unless an allow rule covers it. Private,
    loopback and link-local addresses need an allow rule that names the host in `domains`
    (names_host): one that matches every host, or every host of a top-level domain, does not.
    """

    def check(url: str, redirected: bool) -> tuple[str | None, bool]:
        arguments = {"url": url}
        matching = [r for r in policy.rules if r.matches(WEB_TOOL, arguments)]
        for rule in matching:
            if rule.action == "deny":
                label = rule.name or rule.reason or "a deny rule"
                return f"the policy refuses {url_host(url) or url} ({label})", False
        allowed = any(r.action == "allow" for r in matching)
        if redirected and not allowed and any(r.action == "ask" for r in matching):
            return (
                f"the page redirects to {url_host(url) or url}, which the policy asks about; "
                "fetch that URL directly so a person can approve it",
                False,
            )
        return None, any(r.action == "allow" and names_host(r.domains, url) for r in matching)

    return check


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
