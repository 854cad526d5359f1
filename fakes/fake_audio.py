"""``/v1/audio/transcriptions`` and ``/v1/audio/speech`` for the fake OpenAI server.

Transcription cannot be faked by listening, so it answers ``FakeOpenAI.transcript`` for any
WAV, FLAC, MP3, OGG or WebM file, and a 400 like OpenAI's for anything else. Speech answers
a tone of 0.1 s a word as 24 kHz 16-bit PCM, in chunks, and records each input it was given.
"""

from __future__ import annotations

import math
import struct
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

SPEECH_RATE = 24_000
AUDIO_MAGIC = (b"RIFF", b"fLaC", b"ID3", b"\xff\xfb", b"OggS", b"\x1aE\xdf\xa3")


def form_fields(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = part.get_payload(decode=True) or b""
    return fields


def transcription_response(fields: dict[str, bytes], transcript: str) -> tuple[int, dict[str, Any]]:
    audio = fields.get("file", b"")
    if not fields.get("model"):
        return 400, {"error": {"message": "model is required", "type": "invalid_request_error",
                               "param": "model", "code": None}}
    if not audio.startswith(AUDIO_MAGIC):
        return 400, {"error": {"message": "Invalid file format.", "type": "invalid_request_error",
                               "param": "file", "code": "invalid_value"}}
    return 200, {"text": transcript}


def speech_pcm(text: str) -> bytes:
    """A 440 Hz tone, 0.1 s for each word of `text`."""
    samples = int(0.1 * SPEECH_RATE * max(1, len(text.split())))
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / SPEECH_RATE)))
                    for i in range(samples))
