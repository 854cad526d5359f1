"""A recording as the transcribers take it: any audio file, checked, as 16 kHz mono floats.

PyAV (FFmpeg's libraries, in its wheel) reads WAV, MP3, OGG/Opus, WebM, M4A and the rest.
The length is checked from the file's header before anything is decoded, and again while
decoding, for files whose header does not say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .sound import Sound, wav_bytes

RATE = 16_000  # what Whisper and the transcription APIs expect
SILENT_PEAK = 0.004  # about -48 dBFS: a muted or unplugged microphone


class AudioProblem(Exception):
    """What is wrong with a recording, in a sentence for the user."""


NOT_AUDIO = ("That file is not audio I can read: it is damaged, or not a sound file. "
             "Record again, or attach a WAV, MP3, OGG or M4A file.")
NO_SOUND = "That file has no sound in it."
SILENCE = ("I heard only silence. Check that the right microphone is on and not muted, "
           "then try again.")
NO_SPEECH = ("I heard no speech, only noise. Speak closer to the microphone, or somewhere "
             "quieter, and try again.")


def too_long(seconds: float, most: float) -> AudioProblem:
    return AudioProblem(f"That recording is {_duration(seconds)} long; at most "
                        f"{_duration(most)} can be transcribed.")


def unreadable_codec(codec: str) -> AudioProblem:
    return AudioProblem(f"That recording's sound is in a format ({codec}) that cannot be "
                        "decoded here. Save it as WAV, MP3, OGG or M4A and try again.")


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


@dataclass(frozen=True)
class Recording:
    samples: NDArray[np.float32]  # mono, RATE per second, from -1 to 1

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE

    @property
    def silent(self) -> bool:
        return not len(self.samples) or float(np.max(np.abs(self.samples))) < SILENT_PEAK

    def wav(self) -> bytes:
        pcm = (np.clip(self.samples, -1, 1) * 32767).astype("<i2").tobytes()
        return wav_bytes(Sound(RATE, pcm))


def read_recording(path: str, max_seconds: float) -> Recording:
    """The recording at `path`, or AudioProblem saying why it cannot be transcribed."""
    import av  # FFmpeg's libraries: loaded by the first recording, not by every app
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise AudioProblem(NOT_AUDIO) from None
    with container:
        if not container.streams.audio:
            raise AudioProblem(NO_SOUND)
        stream = container.streams.audio[0]
        declared = container.duration / av.time_base if container.duration else None
        if declared is not None and declared > max_seconds + 0.5:
            raise too_long(declared, max_seconds)
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        if stream.codec_context is None or not stream.codec_context.codec:
            raise unreadable_codec(codec)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        most = int((max_seconds + 0.5) * RATE)
        chunks: list[NDArray[np.float32]] = []
        count = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    chunks.append(chunk)
                    count += len(chunk)
                if count > most:
                    raise too_long(count / RATE, max_seconds)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        except av.error.FFmpegError:
            if not chunks:
                raise AudioProblem(NOT_AUDIO) from None
    if not chunks:
        raise AudioProblem(NO_SOUND)
    return Recording(np.concatenate(chunks))
