"""Real local receivers for notifications: an SMTP server (aiosmtpd) that takes STARTTLS with a
certificate made here and asks for a login, and an HTTP server that keeps what it was sent and
can be made to hang or fail."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMTP_USER = "onloop"
SMTP_PASSWORD = "s3cret-for-tests"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, written under `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server accepted: each message with when it arrived (monotonic)."""

    messages: list[tuple[Message, float, dict[str, Any]]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        seen = {"tls": session.ssl is not None, "login": login, "to": envelope.rcpt_tos}
        with self.arrived:
            self.messages.append((message_from_bytes(envelope.content), time.monotonic(), seen))
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Message]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout_s)
            return [m for m, _, _ in self.messages]


def _login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False, auth_data=auth_data)


@contextmanager
def smtp_server(folder: Path) -> Iterator[tuple[int, Mailbox, Path]]:
    """An SMTP server on 127.0.0.1 that requires STARTTLS and then a login; yields its port,
    its mailbox and the certificate file a client must trust."""
    cert_file, key_file = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_login,
    )
    controller.start()
    try:
        yield port, mailbox, cert_file
    finally:
        controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """An HTTP server that records every request; `hold` makes it hang until released, `status`
    makes it answer with an error, `location` with a redirect to that address; `on_post`, given,
    is called with each request before the answer is sent and may name that answer's status
    (None: `status`)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.hold = threading.Event()  # set: requests wait for `release`
        self.release = threading.Event()
        self.status = 200
        self.location: str | None = None  # sent as Location (with a 3xx `status`)
        self.waiting = 0  # requests held right now
        self.on_post: Callable[[Received], int | None] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.hold.is_set():
                    with receiver.arrived:
                        receiver.waiting += 1
                        receiver.arrived.notify_all()
                    receiver.release.wait(60)
                got = Received(self.path, dict(self.headers), body, time.monotonic())
                with receiver.arrived:
                    receiver.received.append(got)
                    receiver.arrived.notify_all()
                status = receiver.on_post(got) if receiver.on_post is not None else None
                self.send_response(status or receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST  # noqa: N815 - what a followed redirect sends

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout_s)
            return list(self.received)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class RawReceiver:
    """A TCP server that reads a request and then answers with `answer(connection, stop)`
    (broken HTTP, a reply trickled a byte at a time); `stop` is set when the test ends."""

    def __init__(self, answer: Callable[[socket.socket, threading.Event], None]) -> None:
        self.stop = threading.Event()
        self.requests = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self._answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed
                return
            self.requests += 1
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            try:
                self._answer(connection, self.stop)
            except OSError:  # the client gave up
                pass

    def close(self) -> None:
        self.stop.set()
        self.server.close()
