"""A small web site on 127.0.0.1 for fetch_url and mcp-server-fetch: pages, redirects, a slow
page and a large one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE = (
    "<html><head><title>Tides</title><style>p{color:red}</style><script>alert(1)</script></head>"
    "<body><h1>Tides of Brest</h1><p>High water at <b>06:12</b>.</p>"
    "<ul><li>low: 12:30</li></ul></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    redirect_to = ""  # set per server: where /away redirects

    def do_GET(self) -> None:  # noqa: N802  # the stdlib's name
        if self.path == "/article":
            self._send(200, "text/html; charset=utf-8", ARTICLE.encode())
        elif self.path == "/plain":
            self._send(200, "text/plain", b"just text")
        elif self.path == "/hop":
            self._redirect("/article")
        elif self.path == "/away":
            self._redirect(self.server.redirect_to)  # type: ignore[attr-defined]
        elif self.path == "/big":
            self._send(200, "text/plain", b"x" * 3_000_000)
        elif self.path == "/image":
            self._send(200, "image/png", b"\x89PNG....")
        else:
            self._send(404, "text/plain", b"no such page")

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@contextmanager
def local_site(redirect_to: str = "http://169.254.169.254/latest/meta-data") -> Iterator[str]:
    """The site's base URL (http://127.0.0.1:PORT) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.redirect_to = redirect_to  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
