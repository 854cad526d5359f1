"""Text to speech offline: Debian's espeak-ng, one short process per sentence.

A separate process keeps its GPL code out of ours, and it takes 35–100 ms a sentence on
two cores. Installed with `apt install espeak-ng`; without it, speech is off offline.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import AsyncGenerator

from .sound import pcm_of_wav, resampled

MOST_CHARS = 2_000  # of one sentence: a runaway line is cut, not spoken for minutes


class EspeakVoice:
    label = "espeak-ng (offline)"
    sample_rate = 22_050

    def __init__(self, binary: str | None = None, words_per_minute: int = 165) -> None:
        self.binary = binary or shutil.which("espeak-ng")
        self.words_per_minute = words_per_minute

    @property
    def available(self) -> bool:
        return self.binary is not None

    async def speak(self, text: str) -> AsyncGenerator[bytes, None]:
        if self.binary is None:
            raise RuntimeError("espeak-ng is not installed")
        process = await asyncio.create_subprocess_exec(
            self.binary, "-v", "en-us", "-s", str(self.words_per_minute), "--stdout",
            "--", text[:MOST_CHARS],
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.returncode != 0:
            raise RuntimeError(f"espeak-ng exited with {process.returncode}")
        sound = pcm_of_wav(out)  # 22.05 kHz, unless this espeak-ng was set up otherwise
        yield resampled(sound.pcm, sound.sample_rate, self.sample_rate)
