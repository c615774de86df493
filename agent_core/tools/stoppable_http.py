"""HTTP connections a halt can stop: every blocking wait (connect, the answer's headers, its
body) looks at the call's cancel event at least every POLL_S, and the store is asked right before
each request's bytes leave (ToolContext.before_sending), so nothing is sent after a recorded halt
and a request in flight is cut. Used by fetch_url through httpx."""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import time
from typing import Any

import httpcore
import httpx
from httpcore._backends.sync import SyncStream

from agent_core.tools.context import ToolContext

POLL_S = 0.1  # a blocked connect or read looks at the cancel event this often


def stoppable_transport(context: ToolContext, timeout_s: float) -> httpx.HTTPTransport:
    """httpx's transport, with every connection made by _StoppableBackend: httpx offers no public
    way to name the network backend, so it is set on the pool httpx built (checked here)."""
    transport = httpx.HTTPTransport(verify=True, trust_env=False)
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx changed its transport: fetch_url cannot make requests stoppable")
    pool._network_backend = _StoppableBackend(context, timeout_s)
    return transport


class _StoppableBackend(httpcore.SyncBackend):
    """Connections whose every blocking wait ends within POLL_S of the call's cancel event."""

    def __init__(self, context: ToolContext, timeout_s: float) -> None:
        self.context = context
        self.timeout_s = timeout_s
        # The whole fetch's end: each read's own timeout restarts with every byte, so an answer
        # trickling header bytes (or an endless stream of 1xx answers) would never trip it.
        self.deadline = time.monotonic() + timeout_s

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        deadline = min(time.monotonic() + (timeout or self.timeout_s), self.deadline)
        sock = _connect(host, port, deadline, self.context)
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _StoppableStream(SyncStream(sock), self.context, self.deadline)


def _connect(host: str, port: int, deadline: float, context: ToolContext) -> socket.socket:
    """A TCP connection to `host` (the address fetch_url pinned), waiting at most until
    `deadline` and never longer than POLL_S past a halt."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        failed = sock.connect_ex(address)
        waiting = select.poll()
        waiting.register(sock, select.POLLOUT)
        while failed in (errno.EINPROGRESS, errno.EAGAIN):
            context.raise_if_stopped()
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("no connection in time")
            if waiting.poll(min(left, POLL_S) * 1000):
                failed = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if failed:
            raise httpcore.ConnectError(os.strerror(failed))
        context.raise_if_stopped()
        sock.setblocking(True)
        return sock
    except BaseException:
        sock.close()
        raise


def _handshake(
    sock: socket.socket,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
    deadline: float,
    context: ToolContext,
) -> ssl.SSLSocket:
    """Wrap `sock` in TLS, the handshake non-blocking: the cancel event is looked at between
    waits of at most POLL_S, and the whole handshake ends by `deadline`."""
    sock.setblocking(False)
    try:
        secured = ssl_context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False
        )
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    try:
        while True:
            context.raise_if_stopped()
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("the TLS handshake did not end in time")
            try:
                secured.do_handshake()
                break
            except ssl.SSLWantReadError:
                select.select([secured], [], [], min(left, POLL_S))
            except ssl.SSLWantWriteError:
                select.select([], [secured], [], min(left, POLL_S))
            except OSError as exc:  # ssl.SSLError (a bad certificate...) is one
                raise httpcore.ConnectError(str(exc)) from exc
    except BaseException:
        secured.close()  # the socket's descriptor is the TLS socket's now
        raise
    secured.setblocking(True)
    return secured


class _StoppableStream(httpcore.NetworkStream):
    """A connection that asks the store before every write (a request about to leave) and reads
    in POLL_S slices, looking at the cancel event between them."""

    def __init__(
        self, inner: httpcore.NetworkStream, context: ToolContext, deadline: float
    ) -> None:
        self.inner = inner
        self.context = context
        self.deadline = deadline  # the whole fetch's end, whatever each read's timeout says

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        deadline = self.deadline
        if timeout is not None:
            deadline = min(deadline, time.monotonic() + timeout)
        while True:
            self.context.raise_if_stopped()
            left = deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ReadTimeout("the server did not answer in time")
            try:
                return self.inner.read(max_bytes, min(left, POLL_S))
            except httpcore.ReadTimeout:
                continue  # nothing yet: look at the cancel event, then wait again

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.context.before_sending()
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        """The TLS handshake, in POLL_S slices: a server that accepts and never answers the
        handshake keeps neither the run's thread nor the connection past a halt."""
        self.context.raise_if_stopped()
        sock = self.inner.get_extra_info("socket")
        if not isinstance(sock, socket.socket) or isinstance(sock, ssl.SSLSocket):
            return _StoppableStream(  # not a plain socket (TLS in TLS): httpcore's own way
                self.inner.start_tls(ssl_context, server_hostname, timeout),
                self.context,
                self.deadline,
            )
        deadline = self.deadline
        if timeout is not None:
            deadline = min(deadline, time.monotonic() + timeout)
        try:
            secured = _handshake(sock, ssl_context, server_hostname, deadline, self.context)
        except BaseException:
            self.inner.close()
            raise
        return _StoppableStream(SyncStream(secured), self.context, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)
