"""Auto: each message goes to the model its route names, by rules over what the message
has (images, documents, tools, code, length, language, keywords, a pattern) and, for routes with
examples, which route's example it is closest to (by embeddings where the server has
them, else BM25). The first route whose
conditions all hold wins; it says why, in words the page shows above the reply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..documents.embeddings import Embeddings
from ..documents.ranking import Bm25Ranking
from ..providers.backend_file import RouteEntry

AUTO = "Auto"
CLOSE_ENOUGH = 0.3  # of the BM25 score the example gets as its own query: below, chance
CLOSE_MEANING = 0.4  # cosine of two embeddings: unrelated questions score below it
_FENCE = re.compile(r"```|~~~")
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |function |const |let |var |public |"
    r"#include|SELECT |for \(|if \(|return\b|\}|.*[;{]\s*$)", re.MULTILINE)


# The most common words of each language: enough to tell them apart in a message.
_LANGUAGE_WORDS = {
    "en": "the and is are you to of in it that what how this with for not be have do can",
    "fr": "le la les est et de du des une un que pour pas je vous il dans ce qui sur avec",
    "de": "der die das und ist nicht ich sie es ein eine zu mit wie was für auf den dem",
    "es": "el la los las es y que de en un una por para no como qué con se del al",
    "it": "il la che di è e un una per non sono con come cosa gli della del mi ti",
    "pt": "o a os as é e que de em um uma para não com como do da se por você",
    "nl": "de het een en is niet ik je dat van op te met wat hoe zijn voor er",
}
_LANGUAGES = {code: set(words.split()) for code, words in _LANGUAGE_WORDS.items()}
_WORD = re.compile(r"[^\W\d_]+")


def language_of(text: str) -> str | None:
    """The language whose common words the message uses most (None: too few to tell)."""
    words = _WORD.findall(text.lower())
    counts = {code: sum(w in common for w in words) for code, common in _LANGUAGES.items()}
    best = max(counts, key=lambda code: counts[code])
    return best if counts[best] >= 2 and list(counts.values()).count(counts[best]) == 1 \
        else None


@dataclass(frozen=True)
class Asked:
    """What a rule looks at in a turn."""
    text: str
    images: int = 0
    documents: bool = False
    tools: bool = False


@dataclass(frozen=True)
class Decision:
    route: str
    models: tuple[str, ...]  # backend/model, the next ones if one fails before its first token
    why: str


def is_auto(model: str | None) -> bool:
    return bool(model) and str(model).strip().lower() == AUTO.lower()


def looks_like_code(text: str) -> str | None:
    """Why `text` holds code, or None."""
    if _FENCE.search(text):
        return "the message has a code block"
    if len(_CODE_LINE.findall(text)) >= 2:
        return "the message looks like code"
    return None


class Router:
    def __init__(self, routes: Sequence[RouteEntry], embeddings: Embeddings | None = None
                 ) -> None:
        self.routes = tuple(routes)
        self.embeddings = embeddings  # the server's, when it has them: closeness by meaning
        self._vectors: np.ndarray | None = None  # the examples', once embedded
        self._patterns = {i: re.compile(str(r.when["pattern"]), re.IGNORECASE)
                          for i, r in enumerate(routes) if "pattern" in r.when}
        self._examples = [(i, example) for i, r in enumerate(routes) for example in r.examples]
        texts = [e for _, e in self._examples]
        self._bm25 = Bm25Ranking(texts) if texts else None
        self._own = [dict(self._bm25.search(text, len(texts))).get(i, 0.0) or 1.0
                     for i, text in enumerate(texts)] if self._bm25 else []

    async def decide_async(self, asked: Asked) -> Decision | None:
        """`decide`, with closeness to the examples by embeddings when the server has them
        (one request per message); by BM25 when it has none, or they fail."""
        if self.embeddings is None or not self._examples:
            return self.decide(asked)
        known, closest = await self._closest_by_meaning(asked.text)
        return self._decide(asked, closest) if known else self.decide(asked)

    def decide(self, asked: Asked) -> Decision | None:
        """The first route whose conditions all hold; None when none does."""
        return self._decide(asked, self._closest(asked.text))

    def _decide(self, asked: Asked, closest: tuple[int, str] | None) -> Decision | None:
        for index, route in enumerate(self.routes):
            reasons = self._reasons(index, route, asked)
            if reasons is not None and route.examples:
                if closest is None or closest[0] != index:
                    continue
                reasons.append(f"the message is like “{closest[1][:50]}”")
            if reasons is not None:
                why = " and ".join(reasons) if reasons else "everything else"
                return Decision(route.name, route.models, f"{route.name}: {why}")
        return None

    async def _closest_by_meaning(self, text: str) -> tuple[bool, tuple[int, str] | None]:
        """Whether the server could embed; the example closest in meaning, if close enough."""
        assert self.embeddings is not None
        if self._vectors is None:
            vectors = await self.embeddings.embed([e for _, e in self._examples])
            if vectors is None:
                return False, None
            self._vectors = _normalised(np.array(vectors, dtype=np.float32))
        asked = await self.embeddings.embed([text]) if text.strip() else None
        if asked is None:
            return False, None
        scores = self._vectors @ _normalised(np.array(asked, dtype=np.float32))[0]
        best = int(np.argmax(scores))
        return True, self._examples[best] if scores[best] >= CLOSE_MEANING else None

    def _closest(self, text: str) -> tuple[int, str] | None:
        """The example (and its route's position) closest to `text` by BM25, if close enough."""
        if self._bm25 is None:
            return None
        found = self._bm25.search(text, 1)
        if not found or found[0][1] < CLOSE_ENOUGH * self._own[found[0][0]]:
            return None
        return self._examples[found[0][0]]

    def _reasons(self, index: int, route: RouteEntry, asked: Asked) -> list[str] | None:
        """Why each condition holds; None as soon as one does not."""
        reasons: list[str] = []
        for key, wanted in route.when.items():
            reason = self._holds(index, key, wanted, asked)
            if reason is None:
                return None
            if reason:
                reasons.append(reason)
        return reasons

    def _holds(self, index: int, key: str, wanted: object, asked: Asked) -> str | None:
        """Why the condition holds ("" when it holds without a word to say), or None."""
        text = asked.text
        if key == "images":
            has = asked.images > 0
            return ("the message has an image" if has else "") if has == wanted else None
        if key == "documents":
            return ("documents are on" if asked.documents else "") \
                if asked.documents == wanted else None
        if key == "tools":
            return ("tools are on" if asked.tools else "") if asked.tools == wanted else None
        if key == "code":
            why = looks_like_code(text)
            return (why or "") if bool(why) == wanted else None
        if key == "min_chars":
            return f"the message is long ({len(text):,} characters)" \
                if len(text) >= int(str(wanted)) else None
        if key == "max_chars":
            return "" if len(text) <= int(str(wanted)) else None
        if key == "keywords":
            lowered = text.lower()
            found = next((w for w in wanted if _has_words(lowered, str(w))), None) \
                if isinstance(wanted, tuple) else None
            return f"the message says “{found}”" if found else None
        if key == "language":
            found = language_of(text)
            return f"the message is in {found}" if found == wanted else None
        if key == "pattern":
            match = self._patterns[index].search(text)
            return f"the message matches “{match.group(0)[:40]}”" if match else None
        return None


def _has_words(text: str, words: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.reshape(len(vectors), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
