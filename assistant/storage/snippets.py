"""The part of a message a search hit shows: a few words around the first match, with
every matching word between MATCH_START and MATCH_END.

Words match as the databases match them: whole words in any case and without accents,
and the last word of the search as a prefix.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from .records import MATCH_END, MATCH_START

WORD = re.compile(r"\w+")


def folded(word: str) -> str:
    """`word` in lower case without accents ("Café" and "cafe" are one word)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def snippet(text: str, terms: Sequence[str], words: int = 24, before: int = 5) -> str:
    """Up to `words` words of `text` from a little before its first match, matches marked."""
    wanted = [folded(term) for term in terms]
    whole, prefix = set(wanted[:-1]), wanted[-1] if wanted else None
    tokens = list(WORD.finditer(text))

    def matches(token: re.Match[str]) -> bool:
        word = folded(token.group())
        return word in whole or (prefix is not None and word.startswith(prefix))
    first = next((i for i, token in enumerate(tokens) if matches(token)), 0)
    start = max(0, first - before)
    shown = tokens[start:start + words]
    if not shown:
        return ""
    parts, at = [], shown[0].start()
    for token in shown:
        parts.append(text[at:token.start()])
        parts.append(f"{MATCH_START}{token.group()}{MATCH_END}" if matches(token) else token.group())
        at = token.end()
    body = " ".join("".join(parts).split())
    return ("…" if start > 0 else "") + body + ("…" if start + words < len(tokens) else "")
