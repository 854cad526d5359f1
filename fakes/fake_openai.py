"""A real loopback HTTP server that speaks OpenAI's Chat Completions and Responses wire formats.

Standard library only, so it starts in milliseconds. Tests and benchmarks point
the real ``openai`` SDK at it instead of the internet::

    from fakes.fake_openai import FakeOpenAI, Scenario

    with FakeOpenAI() as fake:
        fake.default = Scenario(text="Hello world")     # used when the queue is empty
        fake.enqueue(Scenario(status=429, headers={"retry-after": "1"}), Scenario())
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        ...
        fake.requests[-1].body["messages"]             # request log
        fake.wait_for_disconnect(2)                     # did the client hang up early?

Scenario queue: every ``POST /v1/chat/completions`` or ``POST /v1/responses``
pops exactly one scenario (FIFO), or uses ``fake.default`` when the queue is
empty. That includes the non-streaming fallback an app sends after a
``reject_stream`` answer: it pops the next scenario too. ``GET /v1/models`` and unknown paths pop nothing. Every
request (any path) is recorded in ``fake.requests``.

Wire format (stream events, JSON bodies) and fault semantics: see
fakes/fake_wire.py (chat) and fakes/fake_wire_responses.py (Responses); ``Scenario``
and ``RecordedRequest`` are defined in fakes/fake_scenario.py and re-exported here. Besides text,
errors, pacing and faults, a scenario can stream ``reasoning`` (chat: in the
``reasoning_shape`` a provider uses; Responses: summary events), ``tool_calls``,
a ``refusal``, ``choices`` > 1 and ``content_parts`` (chat), and raw SSE quirks
(chat: ``keepalive``, ``leading_blank_lines``, ``split_utf8``, ``azure_filter``).
``reject_images`` answers a request with images as OpenAI does for a model that
cannot see, and ``echo_images`` replies with what images arrived ("Saw 1 image:
image/jpeg 1024x683"); both are resolved against the request body by
``Scenario.answering`` when the scenario is popped.
The HTTP server lives in fakes/fake_connection.py and its handler in fakes/fake_http.py.

Early disconnects: a client that goes away before its response is complete
(a failed write while streaming, or EOF seen while the server is waiting: during
``hang_before_headers``, ``first_token_delay``, pacing or a "stall") increments
``fake.disconnects`` and wakes ``wait_for_disconnect``. Closing an idle
keep-alive connection between requests is not counted.

CLI for benchmarks (own process, serves until Ctrl-C / SIGTERM, prints base_url)::

    python -m fakes.fake_openai --port 8089 --tokens 300 --rate 50
"""

from __future__ import annotations

import argparse
import itertools
import signal
import socket
import sys
import threading
from collections import deque
from typing import Any

from fakes.fake_http import Handler, Server
from fakes.fake_scenario import FAULTS, RecordedRequest, Scenario

__all__ = ["FakeOpenAI", "Scenario", "RecordedRequest", "FAULTS"]


FLAG_WORDS = {"kill them all": ("violence", "harassment/threatening")}
MODELS = ("gpt-4.1-mini", "fake-model")  # what GET /v1/models lists unless a test changes it

class FakeOpenAI:
    """A threaded loopback server speaking the Chat Completions and Responses wire formats."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.default = Scenario()
        self.by_model: dict[str, Scenario] = {}  # a model's own scenario, before the queue
        self.models: list[str] = list(MODELS)
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.embeddings_enabled = True  # False: /v1/embeddings answers 404, as on most servers
        self.flag_words: dict[str, tuple[str, ...]] = dict(FLAG_WORDS)  # /v1/moderations flags these
        self.flag_images = False  # True: every image is flagged
        self.moderation_status = 200  # else /v1/moderations answers this error
        self.moderation_delay = 0.0  # seconds before /v1/moderations answers
        self.audio_enabled = True  # False: /v1/audio/* answer 404, as on most servers
        self.transcript = "Hello from the fake microphone."  # what any recording says
        self.transcribed: list[bytes] = []  # the files /v1/audio/transcriptions was sent
        self.spoken: list[str] = []  # the inputs /v1/audio/speech was asked to say
        self.speech_delay = 0.0  # seconds between its chunks
        self._queue: deque[Scenario] = deque()
        self._cond = threading.Condition()
        self._stop_event = threading.Event()
        self._conns: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self._response_ids = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._local = threading.local()  # per handler thread: the body of the request it answers

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        if self._server is not None:
            return self
        self._stop_event.clear()
        server = Server((self.host, self.port), Handler)
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
        """Queue scenarios; each POST /v1/chat/completions or /v1/responses pops one (FIFO)."""
        with self._cond:
            self._queue.extend(scenarios)

    def reset(self) -> None:
        """Clear the queue, request log and disconnect counter; default back to Scenario(),
        the model list to MODELS."""
        with self._cond:
            self.models = list(MODELS)
            self._queue.clear()
            self.requests.clear()
            self.disconnects = 0
            self.default = Scenario()
            self.by_model = {}
            self.embeddings_enabled = True
            self.flag_words = dict(FLAG_WORDS)
            self.flag_images = False
            self.moderation_status = 200
            self.moderation_delay = 0.0
            self.audio_enabled = True
            self.transcript = "Hello from the fake microphone."
            self.transcribed.clear()
            self.spoken.clear()
            self.speech_delay = 0.0

    @property
    def pending(self) -> int:
        """Number of queued scenarios not yet used."""
        with self._cond:
            return len(self._queue)

    def _next_scenario(self) -> Scenario:
        body = getattr(self._local, "body", None)
        model = body.get("model") if isinstance(body, dict) else None
        with self._cond:
            scenario = self.by_model[model] if model in self.by_model else \
                self._queue.popleft() if self._queue else self.default
        return scenario.answering(getattr(self._local, "body", None))

    # ---------------------------------------------------------------- observing
    def _record(self, req: RecordedRequest) -> None:
        self._local.body = req.body  # the handler records a request before it pops its scenario
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
    parser = argparse.ArgumentParser(description="Fake OpenAI server (Chat Completions and Responses)")
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
