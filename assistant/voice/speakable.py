"""What is read aloud of a reply: its sentences, in words.

Code blocks are skipped; links are read as their text, images as their description;
URLs, citation marks and Markdown symbols are not read at all.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)
# A sentence ends at . ! ? … (with closing quotes, brackets or citation marks) before a
# space, or at the end of a line: list items and headings have no full stop.
_END = re.compile(r"[.!?…][\"'”’)\]*_]*(?:\[\^?\d+(?:,\s*\d+)*\])*(?=\s)|\n")

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_CITATION = re.compile(r"\[\^?\d+(?:\s*[,–-]\s*\d+)*\]|【[^】]*】")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_INLINE_CODE = re.compile(r"`+([^`]*)`+")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}\s+|>+\s*|[-*+]\s+|\d+[.)]\s+|\|)", re.M)
_RULE = re.compile(r"^\s*([-*_=|:]\s*){3,}$", re.M)
_SYMBOLS = re.compile(r"[*_~`#|<>=^\\{}\[\]$]+")
_SPACES = re.compile(r"\s+")
_STOPPED = re.compile(r"[^\W\d_][.!?…][\"'”’)*_]*$")
_NUMBERING = re.compile(r"\s*\d+[.)]")
_WORD = re.compile(r"\w")


def speakable(markdown: str) -> str:
    """The words of one piece of a reply, or "" when nothing in it is speakable."""
    text = _IMAGE.sub(r"\1", markdown)
    text = _LINK.sub(r"\1", text)
    text = _CITATION.sub("", text)
    text = _URL.sub("", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _LINE_MARK.sub("", text)
    text = _SYMBOLS.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return text if _WORD.search(text) else ""


def _ended(text: str) -> bool:
    """Whether a reply that stops, for now, at `text` has finished a sentence: a full stop
    after a word, not after a number ("3." may go on as "3.5") or inside a link."""
    words = text.split()
    return bool(words) and bool(_STOPPED.search(words[-1])) and \
        not any(mark in words[-1] for mark in ("://", "www.", "@"))


class Sentences:
    """Cuts a reply that grows into sentences, each given once, as soon as it is complete."""

    def __init__(self) -> None:
        self._at = 0  # how much of the reply has been given or skipped

    def feed(self, text: str, final: bool = False) -> list[str]:
        """The sentences completed since the last call; with `final`, the rest too."""
        found: list[str] = []
        while self._at < len(text):
            rest = text[self._at:]
            fence = _FENCE.search(rest)
            before = rest if fence is None else rest[:fence.start()]
            end = _END.search(before)
            while end is not None and _NUMBERING.fullmatch(before[:end.end()]):
                end = _END.search(before, end.end())  # "1. " starts a list item
            if end is not None:
                found.append(before[:end.end()])
                self._at += end.end()
            elif before.strip() and (fence is not None or final or _ended(before)):
                found.append(before)
                self._at += len(before)
            elif fence is not None:
                closing = re.compile(r"^ {0,3}" + re.escape(fence.group(1)[0]) + "{"
                                     + str(len(fence.group(1))) + r",}\s*$", re.M)
                shut = closing.search(rest, fence.end())
                if shut is None and not final:
                    break  # inside a code block that is still being written
                self._at += shut.end() if shut is not None else len(rest)
            else:
                if final:
                    self._at = len(text)
                break
        return [s for s in (speakable(piece) for piece in found) if s]
