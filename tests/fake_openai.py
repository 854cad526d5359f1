"""A real loopback HTTP server that speaks OpenAI's Chat Completions wire format.

Standard library only, so it starts in milliseconds. Tests and benchmarks point
the real ``openai`` SDK at it instead of the internet::

    from tests.fake_openai import FakeOpenAI, Scenario

    with FakeOpenAI() as fake:
        fake.default = Scenario(text="Hello world")     # used when the queue is empty
        fake.enqueue(Scenario(status=429, headers={"retry-after": "1"}), Scenario())
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        ...
        fake.requests[-1].body["messages"]             # request log
        fake.wait_for_disconnect(2)                     # did the client hang up early?

Scenario queue: every ``POST /v1/chat/completions`` pops exactly one scenario
(FIFO), or uses ``fake.default`` when the queue is empty. That includes the
non-streaming fallback an app sends after a ``reject_stream`` answer: it pops
the next scenario too. ``GET /v1/models`` and unknown paths pop nothing. Every
request (any path) is recorded in ``fake.requests``.

Stream wire format (``Content-Type: text/event-stream``, chunked body), each
event ``data: <json>\\n\\n``:
  1. role chunk   ``delta: {"role": "assistant", "content": ""}`` (sent right after
     the headers; ``first_token_delay`` is waited after it)
  2. one chunk per token ``delta: {"content": tok}`` (paced by ``rate``)
  3. final chunk ``delta: {}`` with ``finish_reason``
  4. usage chunk ``choices: []`` when asked (``stream_options.include_usage``)
  5. ``data: [DONE]``, then the terminating zero-length chunk.

Faults (``Scenario.fault``) are applied after ``fault_after`` content chunks of a
stream. For a non-streaming answer only "drop" (close before any response) and
"stall" (stall before the headers) apply; the others are ignored there.

Early disconnects: a client that goes away before its response is complete
(a failed write while streaming, or EOF seen while the server is waiting: during
``hang_before_headers``, ``first_token_delay``, pacing or a "stall") increments
``fake.disconnects`` and wakes ``wait_for_disconnect``. Closing an idle
keep-alive connection between requests is not counted.

CLI for benchmarks (own process, serves until Ctrl-C / SIGTERM, prints base_url)::

    python -m tests.fake_openai --port 8089 --tokens 300 --rate 50
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAI", "Scenario", "RecordedRequest", "FAULTS"]

FAULTS = ("drop", "stall", "error_event", "error_chunk", "malformed", "no_finish")
_TOKEN_RE = re.compile(r"\S+\s*|\s+")
_POLL_SLICE = 0.1  # longest single wait, so stop() is noticed promptly


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON (usually a dict) or None
    time: float  # time.monotonic() at arrival


@dataclass
class Scenario:
    """What the fake answers to one chat completion request. All fields optional."""

    text: str = "Hello from the fake server."
    tokens: list[str] | None = None  # explicit deltas; default: split text keeping whitespace
    n_tokens: int | None = None  # generate "w0 w1 ... " (n tokens), overriding text
    rate: float | None = None  # tokens per second; None = as fast as possible
    first_token_delay: float = 0.0  # seconds after the headers (and role chunk)
    status: int = 200  # != 200: OpenAI-style JSON error, no stream
    error_message: str = "fake error"
    error_type: str = "server_error"
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    hang_before_headers: float = 0.0
    fault: str | None = None  # one of FAULTS
    fault_after: int = 2  # content chunks sent before the fault
    stall_seconds: float = 30.0
    finish_reason: str = "stop"
    json_body: bool = False  # answer stream=true with a plain JSON ChatCompletion
    reject_stream: bool = False  # answer stream=true with HTTP 400 (non-stream gets JSON)
    usage: bool | None = None  # None: follow stream_options.include_usage; True: always; False: never
    refusal: str | None = None  # stream refusal deltas (content null) instead of content

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")

    def token_list(self) -> list[str]:
        """The deltas this scenario streams ("".join(...) is the full reply)."""
        if self.refusal is not None:
            return _TOKEN_RE.findall(self.refusal)
        if self.n_tokens is not None:
            return [f"w{i} " for i in range(self.n_tokens)]
        if self.tokens is not None:
            return list(self.tokens)
        return _TOKEN_RE.findall(self.text)


class _ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class _Stopped(Exception):
    """The server is stopping; abandon this response."""


class _Server(ThreadingHTTPServer):
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "FakeOpenAI/1.0"
    sys_version = ""

    # ------------------------------------------------------------------ plumbing
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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
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
        body = {"error": {"message": message, "type": type_, "code": code, "param": param}}
        self._send_json(status, body, extra)

    # ------------------------------------------------------------------ dispatch
    def _handle(self) -> None:
        arrival = time.monotonic()
        fake = self.fake
        self._request_id = f"req_fake_{next(fake._ids)}"
        raw = self._read_body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        path = self.path.split("?", 1)[0]
        fake._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                time=arrival,
            )
        )
        try:
            if self.command == "POST" and path == "/v1/chat/completions":
                self._chat(body)
            elif self.command == "GET" and path == "/v1/models":
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in fake.models]
                self._send_json(200, {"object": "list", "data": data})
            elif self.command == "GET" and path.startswith("/v1/models/"):
                model = path[len("/v1/models/"):]
                if model in fake.models:
                    self._send_json(200, {"id": model, "object": "model", "created": 0, "owned_by": "fake"})
                else:
                    self._send_error_json(
                        404, f"The model `{model}` does not exist", code="model_not_found", param="model"
                    )
            else:
                self._send_error_json(404, f"Unknown request URL: {self.command} {path}", code="unknown_url")
        except _ClientGone:
            self.close_connection = True
            fake._note_disconnect()
        except _Stopped:
            self._drop()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    # ------------------------------------------------------------------ chat
    def _chat(self, body: Any) -> None:
        if not isinstance(body, dict):
            self._send_error_json(400, "We could not parse the JSON body of your request.")
            return
        sc = self.fake._next_scenario()
        if sc.hang_before_headers > 0:
            self._wait(sc.hang_before_headers)
        if sc.status != 200:
            self._send_error_json(
                sc.status, sc.error_message, sc.error_type, sc.error_code, extra=sc.headers
            )
            return
        stream = bool(body.get("stream"))
        if stream and sc.reject_stream:
            self._send_error_json(
                400,
                "Streaming is not supported for this model",
                "invalid_request_error",
                "unsupported_value",
                "stream",
                extra=sc.headers,
            )
            return
        if stream and not sc.json_body:
            self._stream(sc, body)
        else:
            self._complete(sc, body)

    def _usage(self, body: dict, completion_tokens: int) -> dict[str, int]:
        prompt = 0
        for msg in body.get("messages") or []:
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(content, list):  # content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            prompt += len(content or "") // 4 + 1
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        }

    def _complete(self, sc: Scenario, body: dict) -> None:
        """A plain (non-streaming) ChatCompletion JSON answer."""
        if sc.fault == "drop":
            self._drop()
            return
        if sc.fault == "stall":
            self._wait(sc.stall_seconds)
        tokens = sc.token_list()
        # Simulate generation time: first token delay + pacing of the whole reply.
        gen = sc.first_token_delay + (max(len(tokens) - 1, 0) / sc.rate if sc.rate else 0.0)
        if gen > 0:
            self._wait(gen)
        text = "".join(tokens)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if sc.refusal is not None:
            message = {"role": "assistant", "content": None, "refusal": text}
        obj = {
            "id": f"chatcmpl-fake-{next(self.fake._completion_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or "fake-model",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": sc.finish_reason}],
            "usage": None if sc.usage is False else self._usage(body, len(tokens)),
            "system_fingerprint": None,
        }
        self._send_json(200, obj, sc.headers)

    def _stream(self, sc: Scenario, body: dict) -> None:
        tokens = sc.token_list()
        cid = f"chatcmpl-fake-{next(self.fake._completion_ids)}"
        model = body.get("model") or "fake-model"
        head = (
            f'{{"id":{json.dumps(cid)},"object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{json.dumps(model)},'
        )
        choice_head = head + '"choices":[{"index":0,"delta":'
        delta_key = '{"content":null,"refusal":' if sc.refusal is not None else '{"content":'

        def event(data: str) -> bytes:
            payload = b"data: " + data.encode() + b"\n\n"
            return b"%x\r\n%s\r\n" % (len(payload), payload)

        def choice_event(delta_json: str, finish: str | None = None) -> bytes:
            fin = "null" if finish is None else json.dumps(finish)
            return event(f'{choice_head}{delta_json},"logprobs":null,"finish_reason":{fin}}}]}}')

        stream_options = body.get("stream_options") or {}
        want_usage = sc.usage if sc.usage is not None else bool(
            isinstance(stream_options, dict) and stream_options.get("include_usage")
        )

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self._request_id)
        for k, v in sc.headers.items():
            self.send_header(k, v)
        self.end_headers()

        if sc.refusal is not None:
            first = '{"role":"assistant","content":null,"refusal":""}'
        else:
            first = '{"role":"assistant","content":""}'
        self._write(choice_event(first))
        if sc.first_token_delay > 0:
            self._wait(sc.first_token_delay)

        rate = sc.rate
        start = time.monotonic()
        fault_at = sc.fault_after if sc.fault else -1
        for i, tok in enumerate(tokens):
            if i == fault_at:
                if self._fault(sc, event):
                    return
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    self._wait(delay)
            self._write(choice_event(delta_key + json.dumps(tok) + "}"))
        if fault_at >= len(tokens):
            if self._fault(sc, event):
                return
        self._write(choice_event("{}", sc.finish_reason))
        if want_usage:
            usage = json.dumps(self._usage(body, len(tokens)), separators=(",", ":"))
            self._write(event(f'{head}"choices":[],"usage":{usage}}}'))
        self._write(event("[DONE]") + b"0\r\n\r\n")

    def _fault(self, sc: Scenario, event: Any) -> bool:
        """Apply the scenario's fault. True if the response is finished."""
        fault = sc.fault
        if fault == "drop":
            self._drop()
            return True
        if fault == "stall":
            self._wait(sc.stall_seconds)
            return False  # stall over (client still there): carry on streaming
        if fault == "error_event":
            err = {"message": sc.error_message, "type": sc.error_type, "code": sc.error_code}
            self._write(event(json.dumps({"error": err})) + b"0\r\n\r\n")
            return True
        if fault == "error_chunk":
            # No "error" key: the SDK raises APIError for any event whose "error"
            # is truthy, so that shape would just duplicate "error_event". This
            # (vLLM-style) error object is yielded as a chunk with choices=None.
            err_chunk = {
                "object": "error",
                "type": "error",
                "message": sc.error_message,
                "code": sc.error_code,
            }
            self._write(event(json.dumps(err_chunk)) + event("[DONE]") + b"0\r\n\r\n")
            return True
        if fault == "malformed":
            payload = b"data: {not json\n\n"
            self._write(b"%x\r\n%s\r\n" % (len(payload), payload))
            return False  # then continue with the normal stream
        if fault == "no_finish":
            self._write(b"0\r\n\r\n")  # clean end of the chunked body
            return True
        return False


class FakeOpenAI:
    """A threaded loopback server speaking the Chat Completions wire format."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.default = Scenario()
        self.models: list[str] = ["gpt-4.1-mini", "fake-model"]
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self._queue: deque[Scenario] = deque()
        self._cond = threading.Condition()
        self._stop_event = threading.Event()
        self._conns: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        if self._server is not None:
            return self
        self._stop_event.clear()
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stop_event.set()  # wakes stalls / hangs / paced streams
        server.shutdown()
        server.server_close()
        with self._cond:
            conns = list(self._conns)
        for conn in conns:  # wake handler threads blocked reading keep-alive sockets
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---------------------------------------------------------------- scenarios
    def enqueue(self, *scenarios: Scenario) -> None:
        """Queue scenarios; each POST /v1/chat/completions pops one (FIFO)."""
        with self._cond:
            self._queue.extend(scenarios)

    def reset(self) -> None:
        """Clear the queue, request log and disconnect counter; default back to Scenario()."""
        with self._cond:
            self._queue.clear()
            self.requests.clear()
            self.disconnects = 0
            self.default = Scenario()

    @property
    def pending(self) -> int:
        """Number of queued scenarios not yet used."""
        with self._cond:
            return len(self._queue)

    def _next_scenario(self) -> Scenario:
        with self._cond:
            return self._queue.popleft() if self._queue else self.default

    # ---------------------------------------------------------------- observing
    def _record(self, req: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()

    def _note_disconnect(self) -> None:
        if self._stop_event.is_set():
            return
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._cond:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def wait_for_requests(self, n: int, timeout: float = 5) -> bool:
        """True once at least ``n`` requests have been recorded."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= n, timeout)

    def wait_for_disconnect(self, timeout: float = 5, count: int = 1) -> bool:
        """True once at least ``count`` clients hung up before their response ended."""
        with self._cond:
            return self._cond.wait_for(lambda: self.disconnects >= count, timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI Chat Completions server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--tokens", type=int, default=None, help="reply with N tokens 'w0 w1 ...'")
    parser.add_argument("--text", default=None, help="reply text (when --tokens is not given)")
    parser.add_argument("--rate", type=float, default=None, help="tokens per second (default: unpaced)")
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    args = parser.parse_args(argv)

    scenario = Scenario(n_tokens=args.tokens, rate=args.rate, first_token_delay=args.first_token_delay)
    if args.text is not None:
        scenario.text = args.text
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    fake = FakeOpenAI(args.host, args.port)
    fake.default = scenario
    fake.start()
    print(fake.base_url, flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
