"""The least an OpenAI-compatible proxy on our stack can cost: the benchmarks' floor.

    python -m bench.sdk_proxy BASE_URL PORT

POST /v1/chat/completions goes to BASE_URL through the official SDK over the app's own
HTTP client (providers/aiohttp_transport.py), its body read by the app's own reader
(providers/sse.py), served by uvicorn as the app is, and each chunk comes back as it
came. No keys, limits, tools, saving or records: what remains is what the SDK, the
reader and the server cost. bench/api_capacity.py measures it beside the app.
"""

from __future__ import annotations

import json
import sys
from typing import AsyncIterator

import httpx2
import uvicorn
from openai import AsyncOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from assistant.providers.aiohttp_transport import sdk_http_client
from assistant.providers.sse import json_events


def proxy(base_url: str) -> Starlette:
    client = AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0,
                         http_client=sdk_http_client())

    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        upstream = await client.post(
            "/chat/completions", cast_to=httpx2.Response, stream=True,
            body={**body, "stream_options": {"include_usage": True}})

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in json_events(upstream):
                    yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
            finally:
                await upstream.aclose()
            yield b"data: [DONE]\n\n"
        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def models(request: Request) -> Response:  # the benchmark's readiness check
        return JSONResponse({"object": "list", "data": []})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/models", models)])


if __name__ == "__main__":
    uvicorn.run(proxy(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning")
