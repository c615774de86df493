"""Who may do what: roles from the sign-in configuration, checked at the point of every write.

A dashboard write passes a `Person` (who signed in, with the role the configuration gives them)
as `by=`; `require` refuses it when the role is too small and otherwise returns the label the
audit records. The CLI passes the OS user as a plain string: whoever runs it already holds the
store, so roles guard the dashboard, not the shell.
"""

from __future__ import annotations

import ipaddress
import re
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


class ClaimsRefused(Exception):
    """ID-token claims onloop does not trust; the message says which and why, for the page."""


class AccessConfigError(Exception):
    """A sign-in configuration onloop cannot use; the message names the fix."""


@dataclass(frozen=True)
class Person:
    """Who is at the dashboard: a signed-in identity, or the local (or unguarded) OS user."""

    name: str  # the e-mail when the provider gives one, else the OS user
    role: Role | None
    mode: Mode
    subject: str | None = None  # the provider's stable `sub` claim
    refused: str | None = None  # why the provider's claims were not trusted (no role then)
    unverified: bool = False  # the provider gave an e-mail address it has not verified

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
        """The largest role any rule gives these ID-token claims, or None (also for claims
        onloop refuses: see `identity`)."""
        try:
            return self.role_of(self.identity(claims))
        except ClaimsRefused:
            return None

    def identity(self, claims: Mapping[str, Any]) -> Identity:
        """Who the claims name, parsed strictly; ClaimsRefused says why they are not trusted."""
        return parse_claims(claims, self.group_claim)

    def role_of(self, identity: Identity) -> Role | None:
        keys = identity.keys()
        best: Role | None = None
        for role in ROLES:
            if keys & {ascii_lower(entry) for entry in self.grants.get(role, ())}:
                best = role
        return best


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


# An address onloop matches against `[roles]`: printable ASCII only (a non-ASCII letter such as
# the Kelvin sign would lower-case into another person's ASCII address), one '@', a host name.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_DOMAIN = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]{2,63}")
_SUBJECT = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class Identity:
    """What onloop takes from an ID token: its subject, a verified address, its groups."""

    subject: str
    email: str | None  # lower case; None when absent or not verified by the provider
    groups: tuple[str, ...] = ()
    unverified: bool = False  # an address was given, but the provider has not verified it

    def keys(self) -> set[str]:
        """What `[roles]` entries this identity matches: address, @domain, group:name."""
        keys = {ascii_lower(f"group:{g}") for g in self.groups}
        if self.email is not None:
            keys |= {self.email, "@" + self.email.split("@", 1)[1]}
        return keys


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """`text` with only A-Z folded: Unicode lower-casing turns the Kelvin sign into `k` and
    `İ` into `i̇`, so a group named with them would match another group's rule."""
    return text.translate(_ASCII_LOWER)


def display_name(claims: Mapping[str, Any], identity: Identity | None) -> str:
    """What pages and the audit call a signed-in person: the verified address, else what the
    provider sent marked as unverified (anyone can type `ada@admin.test` as a name)."""
    if identity is not None and identity.email is not None:
        return identity.email
    for key in ("email", "preferred_username", "name"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            shown = value.encode("ascii", "backslashreplace").decode("ascii")[:80]
            return f"{shown} (unverified)"
    return "(no name)"


def parse_claims(claims: Mapping[str, Any], group_claim: str = "groups") -> Identity:
    """The claims as an Identity, strictly: `email_verified` must be the boolean true for the
    address to count; a claim of the wrong type or shape refuses the whole sign-in."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise ClaimsRefused(
            f"the provider's `sub` claim is {_kind(subject)}, not a plain identifier; onloop "
            "needs one to name you in the audit (ask the provider's admin)"
        )
    email, unverified = _verified_email(claims)
    return Identity(subject, email, _groups(claims.get(group_claim), group_claim), unverified)


def _verified_email(claims: Mapping[str, Any]) -> tuple[str | None, bool]:
    if "email" not in claims:
        return None, False
    email = claims["email"]
    if not isinstance(email, str):
        raise ClaimsRefused(f"the provider's `email` claim is {_kind(email)}, not an address")
    local, at, domain = email.partition("@")
    if not (at and _LOCAL.fullmatch(local) and _DOMAIN.fullmatch(domain)):
        raise ClaimsRefused(
            "the provider's `email` claim is not a plain address (one '@', ASCII letters, no "
            "spaces or control characters), so onloop cannot match it to a role"
        )
    verified = claims.get("email_verified", False)
    if verified is False:
        return None, True  # anyone can type any address: an unverified one names nobody
    if verified is not True:
        raise ClaimsRefused(
            f"the provider's `email_verified` claim is {_kind(verified)}, not the boolean true "
            "or false, so onloop cannot tell whether your address is yours"
        )
    return email.lower(), False


def _groups(value: Any, claim: str) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(g, str) and g.strip() for g in values):
        raise ClaimsRefused(
            f"the provider's `{claim}` claim is {_kind(value)}, not a list of names"
        )
    return tuple(values)


def _kind(value: Any) -> str:
    """A claim's type and (short, ASCII) value, for a message shown on the page."""
    if value is None:
        return "missing or null"
    shown = repr(value).encode("ascii", "backslashreplace").decode("ascii")
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return f"{type(value).__name__} {shown}"
