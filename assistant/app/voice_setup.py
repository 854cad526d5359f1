"""Which models hear and speak, from ASSISTANT_VOICE and the default model server."""

from __future__ import annotations

import os

from ..providers.audio import ServerTranscriber, ServerVoice
from ..providers.backends import Backend
from ..voice.espeak import EspeakVoice
from ..voice.service import VoiceService
from ..voice.whisper import WhisperTranscriber
from .settings import Settings


def voice_service(settings: Settings, backend: Backend) -> VoiceService:
    """auto: the model server's audio models unless it is the embedded one (a server
    without them answers 404 once, and the offline models take over); offline: never the
    server's; server: the server's only."""
    mode = settings.voice
    offline = mode != "server"
    server = mode == "server" or (mode == "auto" and backend.kind != "local")
    return VoiceService(
        WhisperTranscriber(threads=min(4, os.cpu_count() or 2)) if offline else None,
        EspeakVoice() if offline else None,
        ServerTranscriber(backend.client, settings.transcription_model) if server else None,
        ServerVoice(backend.client, settings.speech_model, settings.speech_voice)
        if server else None,
        max_seconds=settings.max_audio_seconds)
