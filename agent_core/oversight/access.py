"""Who may do what: roles from the sign-in configuration, checked at the point of every write.

A dashboard write passes a `Person` (who signed in, with the role the configuration gives them)
as `by=`; `require` refuses it when the role is too small and otherwise returns the label the
audit records. The CLI passes the OS user as a plain string: whoever runs it already holds the
store, so roles guard the dashboard, not the shell.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

Role = Literal["viewer", "operator", "approver", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "approver", "admin")
Mode = Literal["oidc", "local", "insecure"]

WHAT_EACH_ROLE_ADDS = {
    "viewer": "watch runs and history",
    "operator": "launch, halt, pause, resume, guide and re-run",
    "approver": "decide approvals",
    "admin": "the Policy page",
}


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AccessDenied(Exception):
    """A signed-in person whose role is too small for what they asked; the message names it."""


class AccessConfigError(Exception):
    """A sign-in configuration onloop cannot use; the message names the fix."""


@dataclass(frozen=True)
class Person:
    """Who is at the dashboard: a signed-in identity, or the local (or unguarded) OS user."""

    name: str  # the e-mail when the provider gives one, else the OS user
    role: Role | None
    mode: Mode
    subject: str | None = None  # the provider's stable `sub` claim

    @property
    def label(self) -> str:
        """What the audit records: e-mail and subject, or the OS user marked as local."""
        if self.mode == "oidc":
            return f"{self.name} (sub {self.subject})"
        return f"{self.name} ({'local' if self.mode == 'local' else 'no sign-in'})"

    def may(self, role: Role) -> bool:
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(role)


def require(by: str | Person, role: Role) -> str:
    """The audit label for `by`, or AccessDenied when a Person's role is below `role`."""
    if isinstance(by, str):
        return by
    if not by.may(role):
        # No name in the message: pages show it, and a name is whatever the provider sent.
        has = f"the {by.role} role" if by.role else "no role"
        raise AccessDenied(f"this needs the {role} role and you have {has}; ask an onloop admin")
    return by.label


@dataclass(frozen=True)
class RoleRules:
    """`[roles]`: per role, e-mails (`a@x.org`), domains (`@x.org`) and groups (`group:ops`)."""

    grants: Mapping[Role, tuple[str, ...]] = field(default_factory=dict)
    group_claim: str = "groups"

    def role_for(self, claims: Mapping[str, Any]) -> Role | None:
        """The largest role any rule gives these ID-token claims, or None."""
        keys = _claim_keys(claims, self.group_claim)
        best: Role | None = None
        for role in ROLES:
            if keys & {entry.lower() for entry in self.grants.get(role, ())}:
                best = role
        return best


def _claim_keys(claims: Mapping[str, Any], group_claim: str) -> set[str]:
    keys: set[str] = set()
    email = claims.get("email")
    # An address the provider has not verified names nobody: anyone can type any address.
    if isinstance(email, str) and "@" in email and claims.get("email_verified") is not False:
        email = email.strip().lower()
        keys |= {email, "@" + email.rsplit("@", 1)[1]}
    groups = claims.get(group_claim)
    if isinstance(groups, str):
        groups = [groups]
    if isinstance(groups, list):
        keys |= {f"group:{g}".lower() for g in groups if isinstance(g, str)}
    return keys


def parse_role_rules(table: Mapping[str, Any]) -> RoleRules:
    grants: dict[Role, tuple[str, ...]] = {}
    for key, value in table.items():
        if key == "group_claim":
            continue
        if key not in ROLES:
            raise AccessConfigError(
                f"[roles] has {key!r}; the roles are {', '.join(ROLES)} (and group_claim)"
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AccessConfigError(
                f'[roles] {key} must be a list like ["ana@example.org", "@example.org", '
                '"group:onloop-ops"]'
            )
        grants[cast(Role, key)] = tuple(v.strip() for v in value)
    group_claim = table.get("group_claim", "groups")
    if not isinstance(group_claim, str) or not group_claim:
        raise AccessConfigError('[roles] group_claim must name a claim, like "groups"')
    return RoleRules(grants=grants, group_claim=group_claim)


REQUIRED_AUTH_KEYS = (
    "redirect_uri",
    "cookie_secret",
    "client_id",
    "client_secret",
    "server_metadata_url",
)


def load_auth_config(path: str | Path) -> RoleRules:
    """Check a sign-in file (`[auth]` as Streamlit reads it, plus `[roles]`); return its roles.

    Errors name the missing key, never a value: the file holds secrets.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise AccessConfigError(f"cannot read the sign-in file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise AccessConfigError(f"the sign-in file {path} is not valid TOML: {error}") from None
    auth = data.get("auth")
    if not isinstance(auth, dict):
        raise AccessConfigError(f"the sign-in file {path} has no [auth] table")
    missing = [key for key in REQUIRED_AUTH_KEYS if not auth.get(key)]
    if missing:
        raise AccessConfigError(f"the sign-in file {path} lacks [auth] {', '.join(missing)}")
    roles = data.get("roles")
    if not isinstance(roles, dict) or not any(roles.get(role) for role in ROLES):
        raise AccessConfigError(
            f"the sign-in file {path} gives nobody a role: add [roles], for example "
            'admin = ["you@example.org"]'
        )
    return parse_role_rules(roles)
