"""The streamed body's reader (providers/sse.py) against the SDK's own AsyncStream."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import httpx2
import openai
import pytest

from assistant.providers.sse import STREAM_ERROR, json_events

CHUNKS = [{"choices": [{"index": 0, "delta": {"content": word}}]} for word in ("Grüße", " aus", " 🎉")]
LF = b"".join(b"data: %s\n\n" % json.dumps(c, ensure_ascii=False).encode() for c in CHUNKS)
LF_DONE = LF + b"data: [DONE]\n\n"


class Pieces(httpx2.AsyncByteStream):
    """A body that arrives in the given pieces, then fails with `error` if one is given."""

    def __init__(self, pieces: list[bytes], error: Exception | None = None) -> None:
        self.pieces, self.error, self.read_to_end = pieces, error, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece
        if self.error:
            raise self.error
        self.read_to_end = True


def response(pieces: list[bytes], error: Exception | None = None) -> httpx2.Response:
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    return httpx2.Response(200, headers={"content-type": "text/event-stream"},
                           stream=Pieces(pieces, error), request=request)


def ours(pieces: list[bytes]) -> list[Any]:
    async def read() -> list[Any]:
        return [value async for value in json_events(response(pieces))]
    return asyncio.run(read())


def sdks(pieces: list[bytes]) -> list[Any]:
    async def read() -> list[Any]:
        client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
        stream = openai.AsyncStream(cast_to=object, response=response(pieces), client=client)
        return [value async for value in stream]
    return asyncio.run(read())


def cut(body: bytes, size: int) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_every_line_ending_cut_anywhere_gives_what_the_sdk_gives(ending, size):
    body = LF_DONE.replace(b"\n", ending)

    assert ours(cut(body, size)) == sdks(cut(body, size)) == CHUNKS


def test_comments_other_fields_and_data_over_several_lines_are_read_as_the_sdk_reads_them():
    body = (b": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: {\"a\":\ndata: 1}\n\n"
            b"data:{\"b\":2}\n\ndata: [DONE]\n\n")

    assert ours(cut(body, 5)) == sdks(cut(body, 5)) == [{"a": 1}, {"b": 2}]


def test_an_event_without_data_is_skipped_where_the_sdk_would_fail_to_parse_it():
    body = b"event: ping\n\n" + LF_DONE

    assert ours([body]) == CHUNKS
    with pytest.raises(json.JSONDecodeError):
        sdks([body])


def test_after_done_nothing_is_read_as_an_event_but_the_body_is_read_to_its_end():
    stream = Pieces([LF_DONE, b"data: {\"late\": true}\n\n"])
    body = httpx2.Response(200, stream=stream, request=httpx2.Request("POST", "http://127.0.0.1:9"))

    async def read() -> list[Any]:
        return [value async for value in json_events(body)]

    assert asyncio.run(read()) == CHUNKS
    assert stream.read_to_end  # so the connection can carry the next request


@pytest.mark.parametrize("error, message", [({"message": "model overloaded"}, "model overloaded"),
                                            ({"code": 500}, STREAM_ERROR)])
def test_an_error_object_mid_stream_raises_the_sdks_error_with_the_servers_words(error, message):
    body = LF + b"data: %s\n\n" % json.dumps({"error": error}).encode()
    for read in (ours, sdks):
        with pytest.raises(openai.APIError) as raised:
            read([body])
        assert (raised.value.message, raised.value.body) == (message, error)


def test_a_broken_event_raises_a_json_error():
    with pytest.raises(json.JSONDecodeError):
        ours([LF + b"data: {\"choices\": [\n\n"])


@pytest.mark.parametrize("broken, raised", [(httpx2.ReadTimeout("slow"), openai.APITimeoutError),
                                            (httpx2.RemoteProtocolError("cut"), openai.APIConnectionError)])
def test_a_broken_read_raises_the_sdks_error_after_the_events_before_it(broken, raised):
    seen: list[Any] = []

    async def read() -> None:
        async for value in json_events(response([LF], broken)):
            seen.append(value)

    with pytest.raises(raised):
        asyncio.run(read())
    assert seen == CHUNKS
