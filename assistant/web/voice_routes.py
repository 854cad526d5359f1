"""/voice/speech/ID: the speech a ticket names, as a WAV stream that plays as it arrives."""

from __future__ import annotations

from typing import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..voice.sound import wav_header
from ..voice.tickets import SpeechTickets

PATH = "voice/speech"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def voice_routes(tickets: SpeechTickets) -> list[Route]:
    def speech(request: Request) -> Response:
        ticket = tickets.take(request.path_params["ticket"])
        if ticket is None:
            return Response(status_code=404, headers=_HEADERS)

        async def body() -> AsyncIterator[bytes]:
            yield wav_header(ticket.sample_rate)
            async for pcm in ticket.pcm():
                yield pcm
        return StreamingResponse(body(), media_type="audio/wav", headers=_HEADERS)

    return [Route(f"/{PATH}/{{ticket}}", speech)]
