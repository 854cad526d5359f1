"""What people ask: questions grouped by the words they share.

Each question becomes its set of content words (stopwords dropped, Snowball stems, as
document search does). The topic is the stem most questions share; its questions leave
the pool and the next topic is taken from the rest. A topic's name is its stem's most
common spelling, with a second word when at least half its questions share one too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from bm25s.stopwords import STOPWORDS_EN_PLUS  # type: ignore[import-untyped]

from ..documents.ranking import stemmer

_WORD = re.compile(r"[^\W\d_]{2,}")
_QUESTION_WORDS = frozenset((
    "can", "could", "would", "should", "please", "help", "want", "need", "know", "tell",
    "give", "make", "get", "use", "like", "one", "also", "way", "thing", "things",
    "something", "anything", "hi", "hello", "thanks", "thank"))
_STOP = frozenset(STOPWORDS_EN_PLUS) | _QUESTION_WORDS
EXAMPLE_CHARS = 160


@dataclass(frozen=True)
class Topic:
    name: str
    questions: int
    examples: tuple[str, ...]


def question_words(text: str) -> dict[str, str]:
    """The question's content words: stem -> the word as written (lowercased)."""
    stem = stemmer()
    words: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOP:
            words.setdefault(stem.stemWord(word), word)
    return words


def topics(questions: Sequence[str], most: int = 8, examples: int = 3,
           least: int = 2) -> tuple[list[Topic], int]:
    """The biggest topics of `questions` (newest first), and how many questions are in none."""
    words = [question_words(q) for q in questions]
    spellings: dict[str, Counter[str]] = {}
    for found in words:
        for stem, word in found.items():
            spellings.setdefault(stem, Counter())[word] += 1
    pool = list(range(len(questions)))
    found_topics: list[Topic] = []
    while pool and len(found_topics) < most:
        shared = Counter(stem for i in pool for stem in words[i])
        if not shared:
            break
        stem, count = max(shared.items(), key=lambda item: (item[1], item[0]))
        if count < least:
            break
        members = [i for i in pool if stem in words[i]]
        with_it = Counter(s for i in members for s in words[i] if s != stem)
        name = spellings[stem].most_common(1)[0][0]
        if with_it:
            second, together = max(with_it.items(), key=lambda item: (item[1], item[0]))
            if together >= 2 and 2 * together >= len(members):
                name = f"{name} {spellings[second].most_common(1)[0][0]}"
        found_topics.append(Topic(name, len(members), tuple(
            _short(questions[i]) for i in members[:examples])))
        chosen = set(members)
        pool = [i for i in pool if i not in chosen]
    return found_topics, len(pool)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS - 1].rstrip() + "…"
