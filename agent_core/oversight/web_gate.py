"""What the policy says about each URL fetch_url is about to request, redirects included."""

from __future__ import annotations

from collections.abc import Callable

from agent_core.oversight.policy import Policy, url_host

WEB_TOOL = "fetch_url"


def url_gate(policy: Policy) -> Callable[[str, bool], tuple[str | None, bool]]:
    """A check of one URL: (why it is refused or None, whether private addresses are allowed).

    A deny rule for the URL refuses it; asking is not possible in the middle of a call, so a
    redirect the policy would ask about is refused too unless an allow rule covers it. Private,
    loopback and link-local addresses need an allow rule that names the host in `domains`.
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
        return None, any(r.action == "allow" and r.domains for r in matching)

    return check
