"""Sending one message on one channel; any failure raises DeliveryFailed with a short reason."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import smtplib
import socket
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from agent_core.oversight.notify import formats
from agent_core.oversight.notify.notice import Notice
from agent_core.oversight.notify_settings import (
    EmailChannel,
    NotifySettings,
    has_credentials,
    receiver_of,
)

TIMEOUT_S = 5.0


class DeliveryFailed(Exception):
    """One attempt did not deliver; the message is what the delivery record shows."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver's redirect is an answer, not an address to send to: urllib would follow a 301,
    302 or 303 with every header but the body's (an ntfy token's Authorization too) to whatever
    host it names, a cloud's metadata address or one inside the network included."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise urllib.error.HTTPError(
            req.full_url,
            code,
            f"{msg}, a redirect to {receiver_of(newurl)} (not followed: "
            "give the policy the receiver's final URL)",
            headers,
            fp,
        )


def _cut_at_deadline(sock: socket.socket) -> None:
    """Shut the connection TIMEOUT_S after it was made. A socket's timeout bounds each read
    only: a receiver that sends its answer a byte a second held a sender thread for good, and
    four of them every thread, so no later message reached anyone."""

    def cut() -> None:
        with contextlib.suppress(OSError):  # done and closed by then: nothing to cut
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(TIMEOUT_S, cut)
    timer.daemon = True
    timer.start()


class _Connection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _cut_at_deadline(self.sock)


class _TlsConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _cut_at_deadline(self.sock)


class _Http(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_Connection, req)


class _Https(urllib.request.HTTPSHandler):
    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_TlsConnection, req)  # the default context, as urlopen uses


_OPENER = urllib.request.build_opener(_NoRedirects, _Http, _Https)


def target_of(settings: NotifySettings, channel: str) -> str:
    """Where a channel sends, for the record and the page: a host, a topic or addresses (never a
    webhook's path, which is its secret)."""
    if channel == "email" and settings.email is not None:
        return ", ".join(settings.email.to)
    if channel == "ntfy" and settings.ntfy is not None:
        return f"{receiver_of(settings.ntfy.server)}/{settings.ntfy.topic}"
    found = getattr(settings, channel, None)
    return receiver_of(found.url) if found is not None else ""


def sender_for(settings: NotifySettings, channel: str) -> Callable[[Notice], None]:
    """The function that sends a notice on `channel` (one attempt, bounded by TIMEOUT_S)."""
    senders: dict[str, Callable[[Notice], None]] = {
        "email": lambda n: _send_email(settings.email, n),
        "slack": lambda n: _post_json(settings.slack, formats.slack_payload(n)),
        "teams": lambda n: _post_json(settings.teams, formats.teams_payload(n)),
        "webhook": lambda n: _post_json(settings.webhook, formats.webhook_payload(n)),
        "ntfy": lambda n: _send_ntfy(settings, n),
    }
    return senders[channel]


def _post(url: str, data: bytes, headers: dict[str, str]) -> None:
    if has_credentials(url):  # an older policy's webhook_url is unchecked; urllib would quote it
        raise DeliveryFailed(
            f"the URL for {receiver_of(url)} carries a user name or password, which onloop does "
            "not send: give the policy a URL without one"
        )
    request = urllib.request.Request(
        url, data=data, headers={"User-Agent": "onloop", **headers}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as reply:
            reply.read(4096)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"the receiver answered HTTP {exc.code} {exc.reason}") from exc
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
        raise DeliveryFailed(
            f"could not reach the receiver: {getattr(exc, 'reason', exc)}"
        ) from exc
    except http.client.HTTPException as exc:  # no OSError: no status line, a cut body, ...
        raise DeliveryFailed(
            f"the receiver's answer is not HTTP onloop reads: {type(exc).__name__} {exc}"
        ) from exc


def _post_json(channel: Any, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, ensure_ascii=True).encode("ascii")
    _post(channel.url, body, {"Content-Type": "application/json"})


def _send_ntfy(settings: NotifySettings, notice: Notice) -> None:
    ntfy = settings.ntfy
    assert ntfy is not None  # only configured channels are sent on
    headers = {"Content-Type": "text/plain; charset=utf-8", **formats.ntfy_headers(notice)}
    if ntfy.token_env:
        token = os.environ.get(ntfy.token_env)
        if not token:
            raise DeliveryFailed(f"{ntfy.token_env} (the ntfy token_env) is not set for the worker")
        headers["Authorization"] = f"Bearer {token}"
    _post(f"{ntfy.server}/{ntfy.topic}", formats.plain_body(notice).encode("utf-8"), headers)


def _send_email(email: EmailChannel | None, notice: Notice) -> None:
    assert email is not None  # only configured channels are sent on
    message = formats.email_message(notice, sender=email.from_, to=email.to)
    password = os.environ.get(email.password_env) if email.password_env else None
    if email.password_env and not password:
        raise DeliveryFailed(f"{email.password_env} (the e-mail password_env) is not set")
    try:
        with smtplib.SMTP(email.host, email.port, timeout=TIMEOUT_S) as smtp:
            if email.starttls:
                smtp.starttls(context=_tls_context())
            if email.username:
                smtp.login(email.username, password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP {email.host}:{email.port}: {exc}") from exc


def _tls_context() -> ssl.SSLContext:
    """The system's trust store, or ONLOOP_SMTP_CA_FILE's (a private CA, a test's own)."""
    return ssl.create_default_context(cafile=os.environ.get("ONLOOP_SMTP_CA_FILE") or None)
