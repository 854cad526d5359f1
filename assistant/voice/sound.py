"""Sound as the voice code passes it around: 16-bit mono PCM, and its WAV framing."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

SAMPLE_BYTES = 2  # signed 16-bit little-endian, mono
STREAM_SIZE = 0xFFFFFFFF  # a WAV stream's sizes when its end is not known yet


@dataclass(frozen=True)
class Sound:
    sample_rate: int
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SAMPLE_BYTES / self.sample_rate


def wav_header(sample_rate: int, data_bytes: int = STREAM_SIZE - 36) -> bytes:
    """The 44 bytes before the samples; without a size, the largest, which browsers play
    as the samples arrive."""
    riff = min(STREAM_SIZE, data_bytes + 36)
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * SAMPLE_BYTES,
                          SAMPLE_BYTES, 8 * SAMPLE_BYTES)
            + b"data" + struct.pack("<I", data_bytes))


def wav_bytes(sound: Sound) -> bytes:
    return wav_header(sound.sample_rate, len(sound.pcm)) + sound.pcm


def pcm_of_wav(data: bytes) -> Sound:
    """The samples of a 16-bit mono WAV, whatever its size fields say (espeak-ng's --stdout
    leaves them unset)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    at, rate = 12, 0
    while at + 8 <= len(data):
        chunk, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if chunk == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", data[at + 8:at + 16])
            bits = struct.unpack("<H", data[at + 22:at + 24])[0]
            if (fmt, channels, bits) != (1, 1, 16):
                raise ValueError("not 16-bit mono PCM")
        elif chunk == b"data":
            if not rate:
                raise ValueError("no format before the samples")
            end = len(data) if size >= len(data) - at - 8 else at + 8 + size
            samples = data[at + 8:end]
            return Sound(rate, samples[:len(samples) - len(samples) % SAMPLE_BYTES])
        at += 8 + size + size % 2
    raise ValueError("no samples")


def resampled(pcm: bytes, rate: int, to: int) -> bytes:
    """16-bit PCM at another rate (linear interpolation: speech, not music)."""
    if rate == to or not pcm:
        return pcm
    samples = np.frombuffer(pcm[:len(pcm) - len(pcm) % SAMPLE_BYTES], "<i2")
    at = np.arange(int(len(samples) * to / rate)) * (rate / to)
    return bytes(np.interp(at, np.arange(len(samples)), samples).astype("<i2").tobytes())
