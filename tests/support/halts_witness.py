"""A WITNESS web server on 127.0.0.1 for the halt attacks: it notes every request it receives, at
arrival, with whether the run's halt was already recorded in the store by then. A request that
arrives after the halt is recorded is an escape.

Pages: /hop/N (a redirect to /hop/N+1, /end after 10, carrying data in the query string; hop
`hold_at` answers only once the test opens the gate), /see-other (held, then a 303 to another
server), /drip (a byte every 100 ms), /silent (never answers) and /end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHAIN = 10  # hops in the redirect chain


@dataclass
class Arrival:
    path: str
    at: float  # time.monotonic() at arrival
    after_halt: bool  # the run's halt was recorded when it arrived


@dataclass
class Witness:
    base: str
    halted: Callable[[], bool] = lambda: False  # is the halt recorded? asked at every arrival
    redirect_to: str = ""  # where /see-other sends its 303
    hold_at: int = 0  # the hop held until the gate opens (0: none)
    arrivals: list[Arrival] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)  # opens held pages
    holding: threading.Event = field(default_factory=threading.Event)  # a held page waits
    dripped: int = 0  # bytes of /drip sent
    cut: threading.Event = field(default_factory=threading.Event)  # the client hung up on us
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, path: str) -> None:
        after = self.halted()
        with self._lock:
            self.arrivals.append(Arrival(path, time.monotonic(), after))

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return [a.path for a in self.arrivals]

    @property
    def escapes(self) -> list[str]:
        with self._lock:
            return [a.path for a in self.arrivals if a.after_halt]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802  # the stdlib's name
        witness = self.server.witness
        witness.note(self.path)
        route = self.path.split("?", 1)[0]
        if route.startswith("/hop/"):
            n = int(route.rsplit("/", 1)[1])
            if n == witness.hold_at:
                self._hold()
            where = f"/hop/{n + 1}?data=secret-{n + 1}" if n < CHAIN else "/end"
            self._redirect(302, where)
        elif route == "/see-other":
            self._hold()
            self._redirect(303, witness.redirect_to)
        elif route == "/drip":
            self._drip()
        elif route == "/silent":
            self._wait_for_hangup(60)
        else:
            self._send(200, b"<html><body><h1>The end</h1></body></html>")

    def _hold(self) -> None:
        self.server.witness.holding.set()
        self.server.witness.gate.wait(60)

    def _redirect(self, status: int, where: str) -> None:
        self.send_response(status)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self) -> None:
        witness = self.server.witness
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "600")
        self.end_headers()
        try:
            for _ in range(600):  # a minute of bytes
                self.wfile.write(b"x")
                self.wfile.flush()
                witness.dripped += 1
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            witness.cut.set()

    def _wait_for_hangup(self, seconds: float) -> None:
        """Send nothing; note when the client closes the connection."""
        self.connection.settimeout(seconds)
        self.server.witness.holding.set()
        try:
            if self.connection.recv(1) == b"":
                self.server.witness.cut.set()
        except OSError:
            self.server.witness.cut.set()

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    witness: Witness


@contextmanager
def witness_server(*, host: str = "127.0.0.1", keep_alive: bool = False) -> Iterator[Witness]:
    """A witness on `host` (a loopback address) while the block runs; HTTP/1.1 keep-alive
    when asked (redirects then reuse one connection)."""
    handler = _Handler
    if keep_alive:
        handler = type("KeepAliveHandler", (_Handler,), {"protocol_version": "HTTP/1.1"})
    server = _Server((host, 0), handler)
    server.witness = Witness(f"http://{host}:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.witness
    finally:
        server.witness.gate.set()
        server.shutdown()
        server.server_close()
