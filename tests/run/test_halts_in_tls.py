"""A halt cuts a fetch whose TLS handshake never gets an answer: a server on 127.0.0.1 accepts the
connection and never says a word, and the fetch's own time limit is 60 s here. The run ends halted
and the client hangs up long before (the bound is a hang guard). The handshake, now made in slices,
still secures the connection and still refuses a certificate nobody trusts."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import pytest

import storage
from agent_core.oversight import control
from agent_core.oversight.web_gate import url_gate
from agent_core.tools import ToolContext, ToolError, web
from agent_core.tools.stoppable_http import _handshake
from tests.run.test_halts_in_tools import FETCH_POLICY, worker_running
from tests.support.halt_helpers import assert_nothing_started_after_the_halt, settle
from tests.support.notify_receivers import self_signed
from tests.support.run_helpers import events_of, new_run, wait_for

HANG_GUARD_S = 15.0


class SilentServer:
    """Accepts connections, reads what comes and never answers; notes when a client hangs up."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.cut = threading.Event()
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.set()
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        with conn:
            while not self.done.is_set():
                try:
                    if conn.recv(4096) == b"":
                        self.cut.set()  # the client hung up
                        return
                except TimeoutError:
                    continue
                except OSError:
                    self.cut.set()
                    return


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.done.set()
        server.sock.close()


def test_a_halt_cuts_a_tls_handshake_that_never_gets_an_answer(store, monkeypatch):
    monkeypatch.setattr(web, "TIMEOUT_S", 60.0)
    with silent_server() as server:
        url = f"https://127.0.0.1:{server.port}/page"
        script = [{"tool_calls": [{"name": "fetch_url", "arguments": {"url": url}}]}, "done"]
        run = new_run(store, "read", model="scripted", autonomy="autonomous", policy=FETCH_POLICY)
        with worker_running(store, script):
            wait_for(server.accepted.is_set, what="the connection")
            wait_for(lambda: events_of(store, run.id, "tool_started"), what="the tool's start")
            control.halt(store, run_id=run.id, by="ann")
            settle(store, [run.id], timeout=HANG_GUARD_S)
            wait_for(server.cut.is_set, timeout=HANG_GUARD_S, what="the client to hang up")
    assert storage.get_run(store, run_id=run.id).status == "halted"
    assert_nothing_started_after_the_halt(store, run.id)
    (result,) = events_of(store, run.id, "tool_result")
    assert result.payload["outcome"] == "halted", result.payload


@contextmanager
def tls_server(folder) -> Iterator[tuple[int, str]]:
    """A TLS server on 127.0.0.1 (a certificate made here) that answers one line: its port and
    the certificate file a client must trust."""
    cert_file, key_file = self_signed(folder)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            try:
                conn.settimeout(10)
                with server_context.wrap_socket(conn, server_side=True) as secured:
                    secured.recv(4096)
                    secured.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            except OSError:
                continue

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1], str(cert_file)
    finally:
        done.set()
        listener.close()


def test_a_stoppable_handshake_still_secures_and_still_checks_the_certificate(tmp_path):
    """The sliced handshake is TLS as before: trusted, it carries the request; a certificate the
    client does not trust is refused."""
    with tls_server(tmp_path) as (port, cert_file):
        trusting = ssl.create_default_context(cafile=cert_file)
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        secured = _handshake(sock, trusting, "127.0.0.1", time.monotonic() + 10, ToolContext())
        with secured:
            secured.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert secured.recv(4096).endswith(b"hello")
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        with pytest.raises(httpcore.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            _handshake(
                sock,
                ssl.create_default_context(),
                "127.0.0.1",
                time.monotonic() + 10,
                ToolContext(),
            )
        context = ToolContext(url_gate=url_gate(FETCH_POLICY))
        with pytest.raises(ToolError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
            web.fetch_url.fn(url=f"https://127.0.0.1:{port}/", tool_context=context)
