"""What an open tab tells its person in a browser notification, and what it has told already.

Each tab remembers (in its session state) the pending approvals and the active runs it saw last
time. On its first look it only takes note: the sidebar already shows what was waiting when the
tab opened. After that, a new approval the person's role may decide, or a run that finished,
was halted or paused by itself, becomes one note, once per tab, when the run's own `[notify]`
`events` (as launched) list that event. The words are the other channels' (notify/notice.py),
made plain (inert.plain): the browser shows them as text, and the script that carries them is
JSON (browser_notify.py).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import storage
from agent_core.oversight import inert
from agent_core.oversight.decisions import role_to_approve
from agent_core.oversight.notify.links import signed_link
from agent_core.oversight.notify.notice import Notice, approval_notice, end_notice
from agent_core.oversight.notify_settings import NotifySettings
from agent_core.oversight.policy import Policy
from agent_core.oversight.signin_roles import Person

SEEN = "browser_notify-seen"  # session state: approval ids this tab has seen pending
ACTIVE = "browser_notify-active"  # session state: run id -> status, as this tab last saw it
NOTES_PER_LOOK = 5  # a burst beyond this is one "more are waiting" note
_MOVING = {"queued", "running", "waiting"}  # a run that may still end or pause by itself


@dataclass(frozen=True)
class BrowserNote:
    """One `new Notification(title, {body, tag})`; a click opens `url` in the tab."""

    title: str
    body: str
    tag: str  # the same item has the same tag in every tab: the browser shows it once
    url: str

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "body": self.body, "tag": self.tag, "url": self.url}


def new_notes(
    store: storage.Store,
    person: Person,
    state: MutableMapping[str | int, Any],  # st.session_state: what this tab saw
    *,
    pending: list[storage.Approval],
    active: tuple[storage.Run, ...],
    link_ttl_s: float,
) -> list[BrowserNote]:
    """The notes for what changed since this tab's last look (none on its first look)."""
    seen: set[int] | None = state.get(SEEN)
    was: dict[str, str] | None = state.get(ACTIVE)
    state[SEEN] = {a.id for a in pending if a.id is not None}
    state[ACTIVE] = {run.id: run.status for run in active}
    if seen is None or was is None:
        return []
    fresh = [a for a in pending if a.id is not None and a.id not in seen]
    notes = _approval_notes(store, person, fresh, link_ttl_s)
    notes += _end_notes(store, was, {run.id: run for run in active})
    if len(notes) > NOTES_PER_LOOK:
        more = len(notes) - NOTES_PER_LOOK + 1
        notes = [
            *notes[: NOTES_PER_LOOK - 1],
            BrowserNote("onloop", f"{more} more runs need you or ended.", "onloop-more", "/"),
        ]
    return notes


def _approval_notes(
    store: storage.Store, person: Person, fresh: list[storage.Approval], ttl: float
) -> list[BrowserNote]:
    notes = []
    for approval in fresh:
        if approval.id is None:
            continue
        try:
            run = storage.get_run(store, run_id=approval.run_id)
            role = role_to_approve(store, approval)
        except storage.NotFound:
            continue  # gone between the two reads
        if not person.may(role) or "approval_requested" not in _settings(run).events:
            continue
        notice = approval_notice(run_id=run.id, goal=run.goal, approval_id=approval.id, role=role)
        action = approval.summary or f"call {approval.tool}"
        body = f"{inert.plain(action, limit=200)} (risk {inert.plain(approval.risk, limit=20)})"
        notes.append(
            BrowserNote(
                title=inert.plain(notice.headline, limit=120),
                body=body,
                tag=f"onloop-{notice.item}",
                url=_approval_link(store, notice, ttl),
            )
        )
    return notes


def _end_notes(
    store: storage.Store, was: dict[str, str], active: dict[str, storage.Run]
) -> list[BrowserNote]:
    notes = []
    for run_id, status in was.items():
        now = active.get(run_id)
        if status not in _MOVING or (now is not None and now.status != "paused"):
            continue
        try:
            run = now or storage.get_run(store, run_id=run_id)
        except storage.NotFound:
            continue
        notice = end_notice(run_id=run.id, goal=run.goal, status=run.status, reason=run.reason)
        if notice is None or notice.event not in _settings(run).events:
            continue
        why = f": {inert.plain(notice.reason, limit=160)}" if notice.reason else ""
        notes.append(
            BrowserNote(
                title=inert.plain(notice.headline, limit=120),
                body=f"{inert.plain(run.goal, limit=120)}{why}",
                tag=f"onloop-run-{run.id}-{run.status}",
                url=f"/?{urlencode({'run': run.id})}",
            )
        )
    return notes


def _settings(run: storage.Run) -> NotifySettings:
    """The run's own `[notify]` table, as Launch narrowed it."""
    return Policy.model_validate(run.policy or {}).notifications()


def _approval_link(store: storage.Store, notice: Notice, ttl: float) -> str:
    """A signed link relative to the tab's own address: it opens the run with the approval
    selected, for the person signed in there (signed_link.py checks it as any other)."""
    return signed_link(storage.notify_key(store), "", item=notice.item, ttl_s=ttl)
