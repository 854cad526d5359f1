"""A read document cut into passages of about the same size, each within one section."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.documents.reading import ReadDocument

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Passage:
    ordinal: int  # 0-based order in its document
    page: int | None
    heading: str
    text: str


def split_passages(document: ReadDocument, *, target_chars: int = 1000, overlap_chars: int = 150) -> list[Passage]:
    """Passages of about target_chars, never crossing a section and never over 1.5 × target_chars.

    Long sections are cut at paragraphs, then sentences, then words; each passage after the
    first of its section starts with up to overlap_chars from the end of the one before.
    """
    if target_chars < 1:
        raise ValueError("target_chars must be positive")
    overlap_chars = max(0, min(overlap_chars, target_chars // 3))  # keeps every passage within 1.5 × target
    passages: list[Passage] = []
    for section in document.sections:
        text = section.text.strip()
        if not text:
            continue
        for chunk in _chunks(text, target_chars, overlap_chars):
            passages.append(Passage(len(passages), section.page, section.heading, chunk))
    return passages


def _chunks(text: str, target: int, overlap: int) -> Iterator[str]:
    if len(text) <= target:
        yield text
        return
    parts: list[str] = []  # the passage being built, separators included
    size = 0
    for separator, piece in _pieces(text, target):
        if parts and size + len(separator) + len(piece) > target:
            passage = "".join(parts)
            yield passage
            carried = _tail(passage, overlap)
            parts, size = ([carried], len(carried)) if carried else ([], 0)
        if parts:
            parts.append(separator)
            size += len(separator)
        parts.append(piece)
        size += len(piece)
    if parts:
        yield "".join(parts)


def _pieces(text: str, target: int) -> Iterator[tuple[str, str]]:
    """(separator before it, piece): paragraphs, cut into sentences and words where they exceed target."""
    for paragraph in _PARAGRAPH_BREAK.split(text):
        separator = "\n\n"
        for sentence in [paragraph] if len(paragraph) <= target else _SENTENCE_END.split(paragraph):
            for piece in [sentence] if len(sentence) <= target else _words(sentence, target):
                if piece:
                    yield separator, piece
                    separator = " "


def _words(sentence: str, target: int) -> Iterator[str]:
    for word in sentence.split():
        for start in range(0, len(word), target):  # a "word" longer than a passage, such as base64
            yield word[start:start + target]


def _tail(passage: str, overlap: int) -> str:
    """The end of a passage, at most overlap characters and half the passage, starting at a word."""
    overlap = min(overlap, len(passage) // 2)
    if overlap == 0:
        return ""
    tail = passage[-overlap:]
    if len(passage) > overlap and not passage[-overlap - 1].isspace():
        cut = tail.find(" ")
        tail = tail[cut + 1:] if cut >= 0 else ""
    return tail.strip()
