"""Which models hear and speak, chosen once from the settings, and what callers ask of them:
a recording's words, and the speech of a reply that may still be growing."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from dataclasses import dataclass
from typing import AsyncGenerator, AsyncIterator, Protocol

from ..providers.audio import AudioRefused, NoAudioEndpoint, ServerTranscriber, ServerVoice
from .espeak import EspeakVoice
from .recording import NO_SPEECH, SILENCE, AudioProblem, read_recording
from .sound import resampled
from .speakable import Sentences
from .whisper import WhisperTranscriber

log = logging.getLogger(__name__)

NO_VOICE = ("Reading aloud needs a voice: install espeak-ng (apt install espeak-ng), "
            "or use a model server that has /v1/audio/speech.")


class Voice(Protocol):
    label: str
    sample_rate: int

    def speak(self, text: str) -> AsyncGenerator[bytes, None]: ...


@dataclass
class VoiceService:
    """`server_*`: the model server's audio models, tried first when there are any;
    a server without the endpoint (404) is not asked again."""
    offline_transcriber: WhisperTranscriber | None
    offline_voice: EspeakVoice | None
    server_transcriber: ServerTranscriber | None = None
    server_voice: ServerVoice | None = None
    max_seconds: float = 300.0

    @property
    def hears(self) -> bool:
        return self.offline_transcriber is not None or self.server_transcriber is not None

    @property
    def voice(self) -> Voice | None:
        if self.server_voice is not None:
            return self.server_voice
        if self.offline_voice is not None and self.offline_voice.available:
            return self.offline_voice
        return None

    async def transcribe(self, path: str) -> str:
        """The words spoken in the audio file at `path`; AudioProblem says why there are none."""
        if not self.hears:
            raise AudioProblem("Speech to text is switched off on this server.")
        recording = await asyncio.to_thread(read_recording, path, self.max_seconds)
        if recording.silent:
            raise AudioProblem(SILENCE)
        if self.server_transcriber is not None:
            try:
                text = await self.server_transcriber.transcribe(recording.wav())
            except NoAudioEndpoint:
                log.info("the model server has no audio transcriptions: transcribing offline")
                self.server_transcriber = None
            except AudioRefused as exc:
                raise AudioProblem(str(exc)) from None
            else:
                if not text:
                    raise AudioProblem(NO_SPEECH)
                return text
        if self.offline_transcriber is None:
            raise AudioProblem("Speech to text is not available on this server.")
        return await asyncio.to_thread(self.offline_transcriber.transcribe, recording)

    async def spoken(self, voice: Voice, texts: AsyncIterator[tuple[str, bool]]
                     ) -> AsyncIterator[bytes]:
        """PCM at `voice`'s rate of a reply read sentence by sentence while it grows;
        `texts` gives the whole reply so far and whether it has ended. A server voice
        that turns out to have no speech endpoint hands over to the offline one."""
        rate, sentences = voice.sample_rate, Sentences()
        async for text, final in texts:
            for sentence in sentences.feed(text, final):
                while True:
                    try:
                        async with aclosing(voice.speak(sentence)) as speech:
                            async for pcm in speech:
                                yield resampled(pcm, voice.sample_rate, rate)
                        break
                    except NoAudioEndpoint:
                        self.server_voice = None
                        if self.voice is None:
                            return
                        voice = self.voice
                        log.info("the model server has no audio speech: speaking offline")
                    except (AudioRefused, RuntimeError) as exc:
                        log.warning("speech failed: %s", exc)
                        return
