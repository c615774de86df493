"""The tables of notifications: the key that signs their links, each delivery, each link's use."""

from __future__ import annotations

from pydantic import NaiveDatetime
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.models import utcnow


class NotifyKey(SQLModel, table=True):
    """The HMAC key notification links are signed with: one row, made on first use. Every
    dashboard and worker of the store shares it, so any of them can check a link."""

    __tablename__ = "notify_keys"

    id: int | None = Field(default=None, primary_key=True)
    secret: str  # hex
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class NotifyDelivery(SQLModel, table=True):
    """One message handed to one channel: where, about what, and how it went."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (Index("ix_notify_deliveries_run", "run_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = None
    approval_id: int | None = None
    event: str  # approval_requested, run_finished, run_halted, run_paused
    channel: str  # email, slack, teams, ntfy, webhook
    target: str  # the receiver, without secrets (host of a webhook, e-mail addresses)
    ok: bool = False
    error: str | None = None
    attempts: int = 0
    at: NaiveDatetime = Field(default_factory=utcnow)


class LinkUse(SQLModel, table=True):
    """A signed link's nonce, written once when the link is used: a second use finds it."""

    __tablename__ = "link_uses"

    nonce: str = Field(primary_key=True)
    item: str
    used_by: str
    used_at: NaiveDatetime = Field(default_factory=utcnow)
