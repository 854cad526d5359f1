"""Voice: how well and how fast speech is heard offline, and how soon a streaming reply is heard.

    python -m bench.voice            # ~4 min on 2 cores
    python -m bench.voice --quick    # 10 sentences, 5 replies, ~1 min

1. Speech to text. Each of 50 short everyday requests (SENTENCES: no digits or number words,
   so Whisper writing numerals is not counted as an error) is spoken by Debian's espeak-ng
   (en-us, 150 words a minute, 22.05 kHz, resampled to 16 kHz), and again with white noise
   added at 10 dB SNR (signal power over the whole clip). Both are written as 16 kHz WAV and
   read back with the app's read_recording. Candidates: Whisper tiny.en through the app's
   WhisperTranscriber (faster-whisper; an "I heard no speech" answer counts as ""), and
   pocketsphinx 5.1.1 with its bundled en-us model (benchmark only: pip install
   pocketsphinx==5.1.1). Each model is loaded once (timed), then warmed on one clip (untimed).
   WER is word-level Levenshtein distance over all reference words, after lowercasing,
   hyphens to spaces and punctuation dropped. Real-time factor = seconds of work / seconds
   of audio, summed over the clips.
2. Time to first sound. A reply streams at 30 tokens/s (a token is a word or a punctuation
   mark) into VoiceService.spoken, as the page's read-aloud does; measured up to its first
   PCM chunk, from the moment the first sentence's full stop is shown, and from the moment
   the app's Sentences takes the sentence as complete (the same, unless the stop follows a
   number, which may go on as "3.5"). 20 replies (REPLIES), after one untimed
   warm-up: offline with EspeakVoice (which answers once the whole sentence is synthesised),
   and with ServerVoice against the fake OpenAI server (fakes/fake_openai.py, in this
   process: a tone, streamed as 24 kHz PCM, so this is the app's own overhead, not a model's).
   Also the offline voice's audio and synthesis seconds per sentence, over SENTENCES.
3. Transcription through the fake server's /v1/audio/transcriptions (ServerTranscriber),
   per clean clip, including encoding the clip as WAV; no WER: the fake answers a fixed text.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path
from typing import Any, AsyncGenerator, Protocol, Sequence, cast

import numpy as np
from openai import AsyncOpenAI

from assistant.providers.audio import ServerTranscriber, ServerVoice
from assistant.voice.espeak import EspeakVoice
from assistant.voice.recording import RATE, AudioProblem, Recording
from assistant.voice.service import Voice, VoiceService
from assistant.voice.speakable import Sentences
from assistant.voice.whisper import WhisperTranscriber
from bench.bench import pct
from bench.voice_clips import (
    REPLIES,
    SENTENCES,
    SNR_DB,
    SYNTH_SPEED,
    WARM_UP_REPLY,
    Clip,
    make_clips,
    word_errors,
    words,
)
from fakes.fake_openai import FakeOpenAI

QUICK_SENTENCES, QUICK_REPLIES = 10, 5
TOKENS_PER_SECOND = 30.0
TARGET_FIRST_SOUND = 0.300  # seconds, offline
TARGET_RTF = 0.3  # offline transcription
PIP_SPHINX = "pip install pocketsphinx==5.1.1"
_TOKEN = re.compile(r"\s*[^\s.,!?;:]+|[.,!?;:]")
_FIRST_STOP = re.compile(r"[.!?]")


# ------------------------------------------------------------------ speech to text

class Candidate(Protocol):
    label: str

    def load(self) -> None: ...

    def transcribe(self, recording: Recording) -> str: ...


class Whisper:
    label = f"faster-whisper {metadata.version('faster-whisper')}, tiny.en int8 (WhisperTranscriber)"

    def __init__(self) -> None:
        self._transcriber = WhisperTranscriber()

    def load(self) -> None:
        self._transcriber.warm()

    def transcribe(self, recording: Recording) -> str:
        try:
            return self._transcriber.transcribe(recording)
        except AudioProblem:
            return ""


class Sphinx:
    def __init__(self) -> None:
        self.label = f"pocketsphinx {metadata.version('pocketsphinx')}, bundled en-us model"
        self._decoder: Any = None

    def load(self) -> None:
        decoder = importlib.import_module("pocketsphinx").Decoder  # not an app dependency, untyped
        self._decoder = decoder(samprate=RATE, loglevel="FATAL")

    def transcribe(self, recording: Recording) -> str:
        pcm = (np.clip(recording.samples, -1, 1) * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp else ""


@dataclass
class Heard:
    errors: int = 0
    words: int = 0
    audio: float = 0.0
    work: list[float] = field(default_factory=list)
    said: list[str] = field(default_factory=list)


@dataclass
class SttResult:
    label: str
    load: float
    by_condition: dict[str, Heard]


def listen(candidate: Candidate, clips: list[Clip]) -> SttResult:
    started = time.perf_counter()
    candidate.load()
    load = time.perf_counter() - started
    candidate.transcribe(clips[0].clean)  # warm, untimed
    by_condition = {"clean": Heard(), "noisy": Heard()}
    for condition, heard in by_condition.items():
        for clip in clips:
            recording = clip.clean if condition == "clean" else clip.noisy
            started = time.perf_counter()
            said = candidate.transcribe(recording)
            heard.work.append(time.perf_counter() - started)
            heard.audio += recording.seconds
            heard.errors += word_errors(clip.text, said)
            heard.words += len(words(clip.text))
            heard.said.append(said)
    return SttResult(candidate.label, load, by_condition)


# ------------------------------------------------------------------ time to first sound

async def streamed(reply: str, shown: list[tuple[float, str]]) -> AsyncGenerator[tuple[str, bool], None]:
    """`reply` growing at TOKENS_PER_SECOND, noting when each text was handed on."""
    text = ""
    for token in _TOKEN.findall(reply):
        await asyncio.sleep(1 / TOKENS_PER_SECOND)
        text += token
        shown.append((time.perf_counter(), text))
        yield text, False
    shown.append((time.perf_counter(), text))
    yield text, True


async def first_sound(service: VoiceService, voice: Voice, reply: str) -> tuple[float, float]:
    """Seconds from the first full stop shown, and from the sentence being complete, to sound."""
    shown: list[tuple[float, str]] = []
    async with (aclosing(streamed(reply, shown)) as texts,
                aclosing(cast(AsyncGenerator[bytes, None], service.spoken(voice, texts))) as pcm):
        async for _ in pcm:
            heard = time.perf_counter()
            break
        else:
            raise RuntimeError(f"no sound for {reply!r}")
    stop = _FIRST_STOP.search(reply)
    end = stop.end() if stop else len(reply)
    visible = next(t for t, text in shown if len(text) >= end)
    complete = next((t for t, text in shown if Sentences().feed(text)), shown[-1][0])
    return heard - visible, heard - complete


async def first_sounds(service: VoiceService, voice: Voice, replies: tuple[str, ...]
                       ) -> tuple[list[float], list[float]]:
    await first_sound(service, voice, WARM_UP_REPLY)
    trials = [await first_sound(service, voice, reply) for reply in replies]
    return [v for v, _ in trials], [c for _, c in trials]


async def offline_sentences(voice: EspeakVoice, sentences: tuple[str, ...]) -> tuple[list[float], list[float]]:
    """Audio seconds and synthesis seconds of each sentence, spoken whole."""
    audio, work = [], []
    for sentence in sentences:
        started = time.perf_counter()
        pcm = b"".join([chunk async for chunk in voice.speak(sentence)])
        work.append(time.perf_counter() - started)
        audio.append(len(pcm) / 2 / voice.sample_rate)
    return audio, work


@dataclass
class Spoken:
    offline: tuple[list[float], list[float]]
    server: tuple[list[float], list[float]]
    sentence_audio: list[float]
    sentence_work: list[float]
    server_transcription: list[float]


async def speak_and_send(replies: tuple[str, ...], clips: list[Clip]) -> Spoken:
    offline_voice = EspeakVoice()
    offline = VoiceService(offline_transcriber=None, offline_voice=offline_voice)
    offline_times = await first_sounds(offline, offline_voice, replies)
    audio, work = await offline_sentences(offline_voice, tuple(c.text for c in clips))
    fake = FakeOpenAI().start()
    try:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="x", max_retries=0)
        server_voice = ServerVoice(client, "gpt-4o-mini-tts", "alloy")
        server = VoiceService(offline_transcriber=None, offline_voice=offline_voice, server_voice=server_voice)
        server_times = await first_sounds(server, server_voice, replies)
        transcriber = ServerTranscriber(client, "gpt-4o-mini-transcribe")
        await transcriber.transcribe(clips[0].clean.wav())  # warm, untimed
        latency = []
        for clip in clips:
            started = time.perf_counter()
            await transcriber.transcribe(clip.clean.wav())
            latency.append(time.perf_counter() - started)
        await client.close()
    finally:
        fake.stop()
    return Spoken(offline_times, server_times, audio, work, latency)


# ------------------------------------------------------------------ report

def ms(values: list[float]) -> str:
    return f"{pct(values, 50) * 1000:.0f} / {pct(values, 95) * 1000:.0f}"


def verdict(value: float, target: float) -> str:
    return f"≤ {target:g} ({'met' if value <= target else 'missed'})"


def first_sound_verdict(times: list[float]) -> str:
    met = {p: "met" if pct(times, p) <= TARGET_FIRST_SOUND else "missed" for p in (50, 95)}
    return f"≤ {TARGET_FIRST_SOUND * 1000:.0f} ms: p50 {met[50]}, p95 {met[95]}"


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def machine_line(started_load: float) -> str:
    cpu = platform.processor() or next(
        (x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
         if x.startswith("model name")), "unknown CPU")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    said = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    espeak = re.search(r"text-to-speech: (\S+)", said)
    return (f"{now} · {os.cpu_count()} cores ({cpu}) · load average {started_load:.2f} at start, "
            f"{os.getloadavg()[0]:.2f} at end · Python {platform.python_version()}, "
            f"espeak-ng {espeak.group(1) if espeak else '?'}, numpy {np.__version__}, "
            f"openai {metadata.version('openai')}")


def print_stt(results: list[SttResult], clips: list[Clip], sphinx_missing: bool) -> None:
    seconds = [c.clean.seconds for c in clips]
    print(f"## Speech to text, offline\n\n{len(clips)} clips, {sum(seconds):.0f} s of speech "
          f"(mean {statistics.mean(seconds):.1f} s), espeak-ng en-us at {SYNTH_SPEED} words/min; "
          f"noisy: white noise at {SNR_DB:g} dB SNR\n")
    rows = []
    for r in results:
        for condition, heard in r.by_condition.items():
            rtf = sum(heard.work) / heard.audio
            rows.append((r.label, condition, f"{heard.errors / heard.words:.1%}", str(heard.said.count("")),
                         f"{rtf:.2f} {verdict(rtf, TARGET_RTF)}", f"{pct(heard.work, 50):.2f}", f"{r.load:.2f}"))
    if sphinx_missing:
        rows.append(("pocketsphinx", "–", f"not installed ({PIP_SPHINX})", "–", "–", "–", "–"))
    table(("Candidate", "Audio", "WER", "Clips heard as nothing", "Real-time factor (target)", "p50 s per clip",
           "Model load s"), rows)
    examples = [(c.text, *(r.by_condition["clean"].said[i] or "(nothing)" for r in results))
                for i, c in enumerate(clips[:4])]
    table(("Said (clean)", *(r.label.split(",")[0] for r in results)), examples)


def print_speech(spoken: Spoken, trials: int) -> None:
    print(f"## Time to first sound\n\nA reply streaming at {TOKENS_PER_SECOND:g} tokens/s, {trials} replies; "
          "milliseconds to VoiceService.spoken's first PCM chunk, p50 / p95\n")
    table(("Voice", "From the full stop shown", "From the sentence taken as complete", "Target"), [
        ("espeak-ng, offline (EspeakVoice)", ms(spoken.offline[0]), ms(spoken.offline[1]),
         first_sound_verdict(spoken.offline[0])),
        ("fake server /v1/audio/speech (ServerVoice)", ms(spoken.server[0]), ms(spoken.server[1]), "–"),
    ])
    audio, work = spoken.sentence_audio, spoken.sentence_work
    print(f"Offline voice, {len(audio)} sentences (espeak-ng at the app's {EspeakVoice().words_per_minute} "
          "words/min, each spoken whole):\n")
    table(("Audio s per sentence (p50)", "Synthesis s per sentence (p50 / p95)", "Synthesis / audio"),
          [(f"{pct(audio, 50):.2f}", f"{pct(work, 50):.3f} / {pct(work, 95):.3f}", f"{sum(work) / sum(audio):.3f}")])
    latency = spoken.server_transcription
    print("## Speech to text through the model server (fake /v1/audio/transcriptions, ServerTranscriber)\n")
    table(("Clips", "p50 ms", "p95 ms"), [(str(len(latency)), f"{pct(latency, 50) * 1000:.1f}",
                                           f"{pct(latency, 95) * 1000:.1f}")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voice", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_SENTENCES} sentences and {QUICK_REPLIES} replies")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        parser.error("needs espeak-ng (apt-get install espeak-ng) to make its test audio")
    load_at_start = os.getloadavg()[0]
    sentences = SENTENCES[:QUICK_SENTENCES] if args.quick else SENTENCES
    replies = REPLIES[:QUICK_REPLIES] if args.quick else REPLIES
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        clips = make_clips(sentences, Path(folder))
    sphinx_missing = util.find_spec("pocketsphinx") is None
    candidates: list[Candidate] = [Whisper()] if sphinx_missing else [Whisper(), Sphinx()]
    results = [listen(c, clips) for c in candidates]
    spoken = asyncio.run(speak_and_send(replies, clips))
    print(f"\n# Voice benchmark{' (quick)' if args.quick else ''}\n\n{machine_line(load_at_start)}\n")
    print_stt(results, clips, sphinx_missing)
    print_speech(spoken, len(replies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
