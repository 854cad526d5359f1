"""Speech through the model server's audio endpoints, with the openai SDK:
`/v1/audio/transcriptions` in, `/v1/audio/speech` out (streamed as raw 24 kHz PCM)."""

from __future__ import annotations

from typing import AsyncGenerator

import openai
from openai import AsyncOpenAI

from .backends import host_of
from .errors import describe


class NoAudioEndpoint(Exception):
    """The server has no such endpoint (404): speech falls back to the offline models."""


class AudioRefused(Exception):
    """The server failed or refused: the message is for the user."""


def _failure(exc: openai.APIError, client: AsyncOpenAI, model: str, endpoint: str) -> Exception:
    if isinstance(exc, openai.NotFoundError) and "model" not in str(exc.message).lower():
        return NoAudioEndpoint(endpoint)
    failure = describe(exc, model=model, host=host_of(str(client.base_url)),
                       read_timeout=float(client.timeout) if isinstance(
                           client.timeout, (int, float)) else 60.0,
                       secrets=(client.api_key,), endpoint=endpoint)
    return AudioRefused(failure.message)


class ServerTranscriber:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model
        self.label = f"{model} on {host_of(str(client.base_url))}"

    async def transcribe(self, wav: bytes) -> str:
        try:
            result = await self.client.audio.transcriptions.create(
                model=self.model, file=("speech.wav", wav, "audio/wav"))
        except openai.APIError as exc:
            raise _failure(exc, self.client, self.model, "audio transcriptions") from None
        return result.text.strip()


class ServerVoice:
    sample_rate = 24_000  # what response_format="pcm" is: 16-bit mono at 24 kHz

    def __init__(self, client: AsyncOpenAI, model: str, voice: str) -> None:
        self.client = client
        self.model = model
        self.voice = voice
        self.label = f"{model} on {host_of(str(client.base_url))}"

    async def speak(self, text: str) -> AsyncGenerator[bytes, None]:
        try:
            async with self.client.audio.speech.with_streaming_response.create(
                    model=self.model, voice=self.voice, input=text,
                    response_format="pcm") as response:
                odd = b""  # a sample split between two chunks
                async for chunk in response.iter_bytes(4_800):  # 0.1 s
                    chunk, cut = odd + chunk, len(odd + chunk) & ~1
                    odd = chunk[cut:]
                    if cut:
                        yield chunk[:cut]
        except openai.APIError as exc:
            raise _failure(exc, self.client, self.model, "audio speech") from None
