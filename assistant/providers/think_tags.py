"""`<think>…</think>` at the start of a reply's text, as local reasoning models write it."""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


def _partial_tail(text: str, tag: str) -> int:
    """How many characters at the end of `text` could begin `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkTags:
    """Splits streamed text into (reasoning, answer) pieces; tags may arrive split."""

    def __init__(self) -> None:
        self.answering = False  # past the reasoning, or there was none: text passes through
        self._thinking = False
        self._pending = ""

    def feed(self, text: str) -> tuple[str, str]:
        if self.answering:
            return "", text
        text, self._pending = self._pending + text, ""
        if not self._thinking:
            head = text.lstrip()
            if head.startswith(OPEN):
                self._thinking, text = True, head[len(OPEN):]
            elif OPEN.startswith(head):  # blank, or the tag so far
                self._pending = text
                return "", ""
            else:
                self.answering = True
                return "", text
        end = text.find(CLOSE)
        if end >= 0:
            self.answering = True
            return text[:end], text[end + len(CLOSE):].lstrip()
        keep = _partial_tail(text, CLOSE)
        if keep:
            text, self._pending = text[:-keep], text[-keep:]
        return text, ""

    def flush(self) -> tuple[str, str]:
        """What is held back when the stream ends."""
        pending, self._pending = self._pending, ""
        return (pending, "") if self._thinking and not self.answering else ("", pending)
