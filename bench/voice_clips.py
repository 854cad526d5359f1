"""The test set of bench/voice.py: everyday requests spoken by espeak-ng, clean and with
noise, and the word error rate of what a transcriber heard."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from assistant.voice.recording import Recording, read_recording

SENTENCES = (
    "What is the weather like in Paris tomorrow?",
    "Can you help me write a short letter to my landlord?",
    "Please summarize this article in a few sentences.",
    "How do I make a good cup of coffee at home?",
    "What should I cook for dinner tonight?",
    "Tell me a joke about cats.",
    "How long does it take to boil an egg?",
    "Can you recommend a good book to read this summer?",
    "What is the capital of Australia?",
    "Explain how a rainbow forms.",
    "Translate good morning into Spanish.",
    "What time does the sun set today?",
    "Remind me to call my mother this evening.",
    "Write a short poem about the ocean.",
    "How do I fix a flat tire on my bike?",
    "What are some healthy snacks for work?",
    "Why is the sky blue?",
    "Help me plan a weekend trip to the mountains.",
    "What is the difference between a virus and a bacteria?",
    "How can I improve my sleep?",
    "Give me some ideas for a birthday present for my sister.",
    "What does this error message mean?",
    "How do I reset my password?",
    "Can you explain what inflation is?",
    "Suggest a name for my new puppy.",
    "What is a good way to learn a new language?",
    "How do plants make their own food?",
    "Write a thank you note for my neighbor.",
    "What are the main causes of climate change?",
    "How do I clean a cast iron pan?",
    "Is it going to rain this afternoon?",
    "Please check the grammar in this paragraph.",
    "What is the best way to store fresh herbs?",
    "Tell me about the history of the Roman empire.",
    "How do I start running if I am out of shape?",
    "Make a shopping list for a simple pasta dinner.",
    "What movies are playing near me this weekend?",
    "Explain the rules of chess in simple words.",
    "How can I stop procrastinating?",
    "What should I pack for a beach holiday?",
    "Can you rewrite this sentence to sound more polite?",
    "How do I grow tomatoes on a balcony?",
    "What is the meaning of the word serendipity?",
    "Help me prepare for a job interview.",
    "Why do cats purr?",
    "How do I keep my plants alive indoors?",
    "What is a healthy breakfast that is quick to make?",
    "Write a polite message declining an invitation.",
    "How does a microwave oven heat food?",
    "Can you tell me a bedtime story about a dragon?",
)

REPLIES = (
    "Sure. Mix flour, milk and eggs in a bowl, then cook each pancake until golden.",
    "Paris will be mild tomorrow, with some sun in the afternoon. Take a light jacket for the evening.",
    "Here is a short poem about the ocean. The waves roll in and softly fall away.",
    "Good question! The sky looks blue because air scatters blue light more than red light.",
    "A flat tire is easy to fix at home with a patch kit. First take the wheel off the bike.",
    "Inflation means that prices rise over time, so the same money buys less. Central banks try to keep it low.",
    "I would suggest calling your puppy Biscuit. It is short, friendly and easy to shout across a park.",
    "To store fresh herbs, trim the stems and stand them in a glass of water. "
    "Soft herbs like basil stay out of the fridge.",
    "Yes. Rain is likely after lunch, so an umbrella is a good idea.",
    "Chess is played on a board of squares by two players, each with a set of pieces that move in different ways. "
    "The goal is to trap the other king.",
    "Here is a polite way to decline. Thank you so much for the invitation, but I cannot make it this time.",
    "Plants make food by photosynthesis. They use light, water and air to make sugar.",
    "For a job interview, research the company, practise your answers out loud and prepare a few questions "
    "of your own. Arrive early and bring a copy of your résumé.",
    "Cats purr when they are relaxed, and sometimes when they are hurt. Nobody knows exactly how it works.",
    "A cast iron pan should be cleaned with hot water and a brush. Dry it well and rub in a little oil.",
    "Serendipity means finding something good without looking for it. It is a lovely word.",
    "Sure, here is a shopping list for a simple pasta dinner. You will need pasta, tomatoes, garlic and cheese.",
    "Microwave ovens heat food by making the water in it vibrate. That is why dry food heats slowly.",
    "Once upon a time, a small dragon lived alone on a quiet mountain. Every night it counted the stars.",
    "The main causes of climate change are burning coal, oil and gas, and cutting down forests.",
)
WARM_UP_REPLY = "Hello there. How can I help you today?"

SYNTH_SPEED = 150  # espeak-ng words a minute for the test clips
SNR_DB = 10.0
SEED = 27


@dataclass(frozen=True)
class Clip:
    text: str
    clean: Recording
    noisy: Recording


def synthesize(text: str, folder: Path) -> Recording:
    """`text` spoken by espeak-ng, read as the app reads any recording (16 kHz mono)."""
    raw = folder / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(SYNTH_SPEED), "-w", str(raw), "--", text],
                   check=True, capture_output=True, timeout=60)
    return read_recording(str(raw), 60)


def with_noise(x: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    noise_power = float(np.mean(x**2)) / 10 ** (SNR_DB / 10)
    return (x + rng.normal(0.0, noise_power**0.5, len(x))).astype(np.float32)


def make_clips(sentences: tuple[str, ...], folder: Path) -> list[Clip]:
    """Each sentence clean and noisy, written as 16 kHz WAV files and read back."""
    rng = np.random.default_rng(SEED)
    clips = []
    for i, text in enumerate(sentences):
        speech = synthesize(text, folder)
        clean, noisy = folder / f"{i}-clean.wav", folder / f"{i}-noisy.wav"
        clean.write_bytes(speech.wav())
        noisy.write_bytes(Recording(with_noise(speech.samples, rng)).wav())
        clips.append(Clip(text, read_recording(str(clean), 60), read_recording(str(noisy), 60)))
    return clips


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", "", text.lower().replace("-", " ")).split()


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions that turn `reference`'s words into `hypothesis`'s."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]
