"""Each medium's message for a notice, with every untrusted word made inert for that medium:
Slack's `&<>` escaped in plain_text objects, Teams' Markdown escaped, e-mail and ntfy headers on
one line with nothing a reader would follow as a link. The signed link is ours, so it is the one
address each message carries as a link."""

from __future__ import annotations

from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from agent_core.oversight import inert
from agent_core.oversight.notify.notice import Notice

OPEN_LABEL = "Open in onloop"


def _facts(notice: Notice) -> list[tuple[str, str]]:
    """(label, untrusted value) in reading order; empty values left out."""
    facts = [
        ("Action", notice.action),
        ("Risk", notice.risk or ""),
        ("Asks", f"someone with the {notice.role} role" if notice.role else ""),
        ("Why", notice.reason),
        ("Run", notice.run_id),
        ("Goal", notice.goal),
    ]
    return [(label, value) for label, value in facts if value]


def slack_payload(notice: Notice) -> dict[str, Any]:
    """Block Kit: every untrusted word in plain_text; the link is the button's URL."""
    fields = [
        {"type": "plain_text", "text": f"{label}: {inert.chat(value, limit=300)}"}
        for label, value in _facts(notice)
    ]
    return {
        "text": inert.chat(f"{notice.headline}: {notice.action}"),  # the notification's line
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": notice.headline[:150]}},
            {"type": "section", "fields": fields[:10]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": OPEN_LABEL},
                        "url": notice.link,
                        "action_id": "open",
                    }
                ],
            },
        ],
    }


def teams_payload(notice: Notice) -> dict[str, Any]:
    """A message with one Adaptive Card (what Teams workflows' incoming webhooks take): its
    TextBlocks and facts read Markdown, so untrusted words are escaped as for the dashboard."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": notice.headline, "weight": "Bolder", "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": label, "value": inert.markdown(value)}
                    for label, value in _facts(notice)
                ],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": OPEN_LABEL, "url": notice.link}],
    }
    return {
        "type": "message",
        "summary": inert.plain(notice.headline, limit=150),
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook_payload(notice: Notice) -> dict[str, Any]:
    """The plain webhook's JSON, as before (`text` Slack-compatible) plus the new fields; raw
    values are JSON strings for programs, `text` is inert for a chat that reads it."""
    text = "\n".join(
        [inert.chat(notice.headline), *(f"{k}: {inert.chat(v)}" for k, v in _facts(notice))]
        + [f"open: {notice.link}"]
    )
    return {
        "text": text,
        "event": notice.event,
        "run_id": notice.run_id,
        "approval_id": notice.approval_id,
        "summary": notice.action,
        "reason": notice.reason,
        "risk": notice.risk,
        "role": notice.role,
        "goal": notice.goal,
        "link": notice.link,
    }


def plain_body(notice: Notice) -> str:
    """The text of an e-mail or an ntfy push: one inert line per fact, then the link."""
    lines = [f"{label}: {inert.plain(value)}" for label, value in _facts(notice)]
    return "\n".join([*lines, "", f"{OPEN_LABEL} (sign-in required): {notice.link}", ""])


def ntfy_headers(notice: Notice) -> dict[str, str]:
    """ntfy's Title, Priority, Click and Tags: one line each, non-ASCII as RFC 2047 words."""
    urgent = notice.event == "approval_requested" and notice.risk == "high"
    title = inert.plain(f"{notice.headline}: {notice.action}", limit=200)
    return {
        "Title": title if title.isascii() else Header(title, "utf-8").encode(),
        "Priority": "5" if urgent else ("4" if notice.event == "approval_requested" else "3"),
        "Click": notice.link,
        "Tags": "onloop," + notice.event,
    }


def email_message(notice: Notice, *, sender: str, to: list[str]) -> EmailMessage:
    """A plain-text e-mail. The Subject goes through inert.plain (one line: no CR or LF can
    start a header of its own), and EmailMessage refuses any header that still held one."""
    message = EmailMessage()
    message["Subject"] = inert.plain(f"{notice.headline}: {notice.action}", limit=200)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="onloop.local")
    message.set_content(plain_body(notice))
    return message
