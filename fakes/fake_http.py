"""What the fake OpenAI server (fakes/fake_openai.py) answers: its request handler.

``Handler`` serves one connection: it records each request, routes it, and for
``POST /v1/chat/completions`` and ``POST /v1/responses`` plays the next ``Scenario``
(headers, waits, pacing, faults). The bytes it sends come from fakes/fake_wire.py
and fakes/fake_wire_responses.py.

The connection plumbing (writing, sliced waits that notice a client leaving or the
server stopping, dropping, JSON replies) and ``Server`` are in fakes/fake_connection.py.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable, Iterable

from fakes.fake_audio import form_fields, speech_pcm, transcription_response
from fakes.fake_connection import Connection, Server, _ClientGone, _Stopped
from fakes.fake_embeddings import embeddings_response
from fakes.fake_moderation import moderation_response
from fakes.fake_scenario import RecordedRequest, Scenario, data_inside, tool_outputs
from fakes.fake_wire import (
    DELTA,
    END,
    HEAD,
    Wire,
    chat_fault,
    chat_stream,
    completion_payload,
    model_object,
    models_list,
)
from fakes.fake_wire_responses import ResponseEvents

__all__ = ["Server", "Handler"]


class Handler(Connection):
    """Records each request, routes it, and plays scenarios."""

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
                self._post(body, self._stream, self._complete)
            elif self.command == "POST" and path == "/v1/responses":
                self._post(body, self._responses_stream, self._responses_complete)
            elif self.command == "POST" and path == "/v1/embeddings" and fake.embeddings_enabled:
                self._send_json(*embeddings_response(body))
            elif self.command == "POST" and path == "/v1/moderations":
                self._moderate(body)
            elif self.command == "POST" and path.startswith("/v1/audio/") and not fake.audio_enabled:
                self._send_error_json(404, f"Unknown request URL: {self.command} {path}",
                                      code="unknown_url")
            elif self.command == "POST" and path == "/v1/audio/transcriptions":
                fields = form_fields(self.headers.get("Content-Type", ""), raw)
                fake.transcribed.append(fields.get("file", b""))
                self._send_json(*transcription_response(fields, fake.transcript))
            elif self.command == "POST" and path == "/v1/audio/speech":
                self._speak(body)
            elif self.command == "GET" and path == "/v1/models":
                self._send_json(200, models_list(fake.models))
            elif self.command == "GET" and path.startswith("/v1/models/"):
                model = path[len("/v1/models/"):]
                if model in fake.models:
                    self._send_json(200, model_object(model))
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

    def _speak(self, body: Any) -> None:
        """``/v1/audio/speech``: the tone for ``input``, in 0.1 s chunks, ``speech_delay`` apart."""
        fake = self.fake
        if not isinstance(body, dict) or not body.get("input") or not body.get("model"):
            self._send_error_json(400, "input and model are required", param="input")
            return
        fake.spoken.append(str(body["input"]))
        pcm = speech_pcm(str(body["input"]))
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm")
        self.send_header("Content-Length", str(len(pcm)))
        self.end_headers()
        for at in range(0, len(pcm), 4800):
            if fake.speech_delay > 0 and at:
                self._wait(fake.speech_delay)
            self._write(pcm[at:at + 4800])

    def _moderate(self, body: Any) -> None:
        """``/v1/moderations``, after ``moderation_delay``; ``moderation_status`` != 200 fails it."""
        fake = self.fake
        if fake.moderation_delay > 0:
            self._wait(fake.moderation_delay)
        if fake.moderation_status != 200:
            self._send_error_json(fake.moderation_status, "The moderation service is down.",
                                  "server_error")
            return
        self._send_json(*moderation_response(body, fake.flag_words, fake.flag_images))

    # ------------------------------------------------------------------ chat / responses
    def _post(self, body: Any, stream: Callable[[Scenario, dict], None],
              complete: Callable[[Scenario, dict], None]) -> None:
        """Pop the next scenario and answer with it: an error, a stream or a plain JSON body."""
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
        if sc.reject_tools and body.get("tools"):
            self._send_error_json(400, "This model does not support tools.", param="tools")
            return
        if sc.echo_tool_results:
            results = [data_inside(output) for output in tool_outputs(body)]  # as a model reads them
            sc = dataclasses.replace(sc, text="Tool results: " + "; ".join(results),
                                     echo_tool_results=False)
        streaming = bool(body.get("stream"))
        if streaming and sc.reject_stream:
            self._send_error_json(
                400,
                "Streaming is not supported for this model",
                "invalid_request_error",
                "unsupported_value",
                "stream",
                extra=sc.headers,
            )
            return
        if streaming and not sc.json_body:
            stream(sc, body)
        elif self._before_json(sc):
            complete(sc, body)

    def _before_json(self, sc: Scenario) -> bool:
        """The faults and generation time of a plain JSON answer. False if it was dropped."""
        if sc.fault == "drop":
            self._drop()
            return False
        if sc.fault == "stall":
            self._wait(sc.stall_seconds)
        # Simulate generation time: first token delay + pacing of the whole reply.
        n = len(sc.token_list()) + len(sc.reasoning_tokens())
        gen = sc.first_token_delay + (max(n - 1, 0) / sc.rate if sc.rate else 0.0)
        if gen > 0:
            self._wait(gen)
        return True

    def _complete(self, sc: Scenario, body: dict) -> None:
        """A plain (non-streaming) ChatCompletion JSON answer."""
        cid = f"chatcmpl-fake-{next(self.fake._completion_ids)}"
        payload = completion_payload(sc, body, sc.token_list(), cid, int(time.time()))
        self._send_json(200, payload, sc.headers)

    def _stream(self, sc: Scenario, body: dict) -> None:
        cid = f"chatcmpl-fake-{next(self.fake._completion_ids)}"
        self._stream_headers(sc)
        self._play(sc, chat_stream(sc, body, cid, int(time.time())), lambda fault: chat_fault(sc, fault))

    def _responses_complete(self, sc: Scenario, body: dict) -> None:
        """A plain (non-streaming) Response JSON answer."""
        events = ResponseEvents(sc, body, next(self.fake._response_ids), int(time.time()))
        self._send_json(200, events.payload(), sc.headers)

    def _responses_stream(self, sc: Scenario, body: dict) -> None:
        events = ResponseEvents(sc, body, next(self.fake._response_ids), int(time.time()))
        self._stream_headers(sc)
        self._play(sc, events.stream(), events.fault)

    def _stream_headers(self, sc: Scenario) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", self._request_id)
        for k, v in sc.headers.items():
            self.send_header(k, v)
        self.end_headers()

    def _play(self, sc: Scenario, events: Iterable[tuple[str, Wire]],
              fault_bytes: Callable[[str], tuple[bytes, bool]]) -> None:
        """Send a stream's events: ``first_token_delay`` after the HEAD ones, DELTAs paced
        by ``rate``, the fault before delta ``fault_after`` (or before the END event)."""
        fault_at = sc.fault_after if sc.fault else -1
        start: float | None = None
        n = 0
        for kind, data in events:
            if kind != HEAD and start is None:
                if sc.first_token_delay > 0:
                    self._wait(sc.first_token_delay)
                start = time.monotonic()
            if fault_at >= 0 and (n == fault_at if kind == DELTA else kind == END):
                fault_at = -1
                if self._fault(sc, fault_bytes):
                    return
            if kind == DELTA:
                if sc.rate and start is not None:
                    delay = start + n / sc.rate - time.monotonic()
                    if delay > 0:
                        self._wait(delay)
                n += 1
            if callable(data):
                data = data()
            for piece in data if isinstance(data, tuple) else (data,):
                self._write(piece)

    def _fault(self, sc: Scenario, fault_bytes: Callable[[str], tuple[bytes, bool]]) -> bool:
        """Apply the scenario's fault. True if the response is finished."""
        if sc.fault == "drop":
            self._drop()
            return True
        if sc.fault == "stall":
            self._wait(sc.stall_seconds)
            return False  # stall over (client still there): carry on streaming
        data, finished = fault_bytes(sc.fault or "")
        if data:
            self._write(data)
        return finished
