"""The connection side of the fake OpenAI server: its threaded HTTP server, and the
handler plumbing every response uses (writing, waiting, dropping, reading a body,
sending JSON). What it answers is in fakes/fake_http.py.

Every wait is sliced (``_POLL_SLICE``) and watches the socket, so a stopping
server (``_Stopped``) or a client that hangs up early (``_ClientGone``, counted
in ``FakeOpenAI.disconnects``) ends the response promptly.
"""

from __future__ import annotations

import json
import select
import socket
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from fakes.fake_wire import error_payload

if TYPE_CHECKING:
    from fakes.fake_openai import FakeOpenAI

__all__ = ["Server", "Connection"]

_POLL_SLICE = 0.1  # longest single wait, so stop() is noticed promptly


class _ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class _Stopped(Exception):
    """The server is stopping; abandon this response."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for stalled handler threads
    allow_reuse_address = True
    request_queue_size = 512

    fake: FakeOpenAI

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can do a slow DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.fake._stop_event.is_set():
            return  # connection noise (resets, closed sockets): stay quiet
        super().handle_error(request, client_address)


class Connection(BaseHTTPRequestHandler):
    """One connection's plumbing; ``Handler`` adds what it answers."""

    protocol_version = "HTTP/1.1"
    server: Server
    server_version = "FakeOpenAI/1.0"
    sys_version = ""
    _request_id = ""

    def setup(self) -> None:
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().setup()
        self.fake = self.server.fake
        self._poller = select.poll()
        self._poller.register(self.request, select.POLLIN | select.POLLPRI)
        self.fake._track(self.request, True)

    def finish(self) -> None:
        self.fake._track(self.request, False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _write(self, data: bytes) -> None:
        if self.fake._stop_event.is_set():
            raise _Stopped
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise _ClientGone from exc
        except OSError as exc:
            if self.fake._stop_event.is_set():
                raise _Stopped from exc
            raise _ClientGone from exc

    def _client_gone(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s; True as soon as the client closes or resets."""
        try:
            events = self._poller.poll(max(0.0, timeout) * 1000.0)
        except OSError:
            return True
        if not events:
            return False
        try:
            peek = self.request.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if peek == b"":
            return True
        # The client sent more bytes (pipelining); it is still there. Sleep plainly.
        self.fake._stop_event.wait(timeout)
        return False

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``; raise _ClientGone / _Stopped if that happens first."""
        deadline = time.monotonic() + seconds
        stop = self.fake._stop_event
        while True:
            if stop.is_set():
                raise _Stopped
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._client_gone(min(remaining, _POLL_SLICE)):
                if stop.is_set():
                    raise _Stopped
                raise _ClientGone

    def _drop(self) -> None:
        """Cut the connection abruptly: no terminating chunk, no further bytes."""
        self.close_connection = True
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.request.close()
        except OSError:
            pass

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        payload = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", self._request_id)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()  # flushes the header buffer to the socket
        self._write(payload)

    def _send_error_json(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self._send_json(status, error_payload(message, type_, code, param), extra)
