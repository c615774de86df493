"""The `[notify]` table of a policy: where people are told that a run needs them or has ended.

Secrets never sit in the file: the e-mail password and the ntfy token are named by the
environment variable that holds them (read by the worker when it sends).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NotifyEvent = Literal["approval_requested", "run_finished", "run_halted", "run_paused"]
EVENTS: tuple[NotifyEvent, ...] = ("approval_requested", "run_finished", "run_halted", "run_paused")
CHANNELS = ("email", "slack", "teams", "ntfy", "webhook")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ADDRESS = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")


def _http_url(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = url if not has_credentials(url) else f"{parts.scheme}://{receiver_of(url)}/..."
        raise ValueError(f"{what} must be an http(s) URL such as https://host/path, not {shown!r}")
    return url.strip()


def has_credentials(url: str) -> bool:
    """Whether a URL carries `user:password@` (a secret that may reach no record or page)."""
    return "@" in urlsplit(url.strip()).netloc


def receiver_of(url: str) -> str:
    """Where a URL sends, as records and pages may show it: host and port, never the user name,
    password or path (a webhook's path is its secret)."""
    netloc = urlsplit(url.strip()).netloc
    return netloc.rpartition("@")[2]


def _env_name(name: str | None, key: str) -> str | None:
    if name is not None and not _ENV_NAME.match(name):
        raise ValueError(
            f"{key} names the environment variable that holds the secret (e.g. "
            f'"ONLOOP_SMTP_PASSWORD"), not the secret itself; {name!r} is not a variable name'
        )
    return name


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets_in_the_file(cls, given: Any) -> Any:
        if isinstance(given, dict):
            for key in ("password", "token", "secret"):
                if key in given:
                    raise ValueError(
                        f"{key} may not be written in the policy file: put it in an environment "
                        f"variable and name that variable in {key}_env"
                    )
        return given


class EmailChannel(_Channel):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)

    @field_validator("password_env")
    @classmethod
    def _variable(cls, name: str | None) -> str | None:
        return _env_name(name, "password_env")

    @field_validator("from_", "to")
    @classmethod
    def _addresses(cls, given: str | list[str]) -> str | list[str]:
        for address in [given] if isinstance(given, str) else given:
            if not _ADDRESS.match(address):
                raise ValueError(f"{address!r} is not an e-mail address (name@host)")
        return given


class WebhookChannel(_Channel):
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _http_url(url, "url")


class NtfyChannel(_Channel):
    server: str = "https://ntfy.sh"
    topic: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    token_env: str | None = None

    @field_validator("server")
    @classmethod
    def _server(cls, url: str) -> str:
        return _http_url(url, "server").rstrip("/")

    @field_validator("token_env")
    @classmethod
    def _variable(cls, name: str | None) -> str | None:
        return _env_name(name, "token_env")


class NotifySettings(BaseModel):
    """Channels, the events they hear about, and what links in messages point at."""

    model_config = ConfigDict(extra="forbid")

    dashboard_url: str = "http://localhost:8501"
    events: list[NotifyEvent] = Field(default_factory=lambda: list(EVENTS))
    link_ttl_s: float = Field(default=86_400, gt=0, le=31_536_000)  # up to a year
    # Open dashboard tabs whose person turned notifications on show them (docs/notifications.md).
    browser: bool = True
    email: EmailChannel | None = None
    slack: WebhookChannel | None = None
    teams: WebhookChannel | None = None
    ntfy: NtfyChannel | None = None
    webhook: WebhookChannel | None = None

    @field_validator("dashboard_url")
    @classmethod
    def _base(cls, url: str) -> str:
        return _http_url(url, "dashboard_url").rstrip("/")

    def credentials_problem(self) -> str | None:
        """Why a URL of this table may not be written in a policy file: it carries a user name
        or password (said without them). Checked where a file is read, not in the model: a
        run's stored policy from before this check still loads (its channel is not sent to)."""
        urls = {"dashboard_url": self.dashboard_url}
        for channel in ("slack", "teams", "webhook"):
            if (found := getattr(self, channel)) is not None:
                urls[f"{channel}.url"] = found.url
        if self.ntfy is not None:
            urls["ntfy.server"] = self.ntfy.server
        for key, url in urls.items():
            if has_credentials(url):
                return (
                    f"notify.{key} may not carry a user name or password (...@{receiver_of(url)}):"
                    " secrets never sit in the policy file; give the receiver's URL without them"
                )
        return None

    def configured(self) -> list[str]:
        """The channels this table sets up, in CHANNELS order."""
        return [name for name in CHANNELS if getattr(self, name) is not None]

    def narrowed(self, channels: list[str], events: list[str]) -> NotifySettings:
        """The same table with only these channels and events (Launch's per-run choice)."""
        kept = {name: None for name in CHANNELS if name not in channels}
        chosen = [e for e in self.events if e in events]
        return self.model_copy(update={**kept, "events": chosen})
