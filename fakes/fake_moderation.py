"""``POST /v1/moderations`` for the fake OpenAI server, shaped as omni-moderation-latest answers.

A message is flagged for the categories of each word of ``FakeOpenAI.flag_words`` it
contains (any case); an image is flagged "sexual" when ``flag_images`` is on. One result
covers the whole input, text and images, as the real model gives for a list of parts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CATEGORIES", "moderation_response"]

CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
              "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions",
              "sexual", "sexual/minors", "violence", "violence/graphic")


def _parts(body: Any) -> tuple[str, int]:
    """The input's text and how many images it has."""
    given = body.get("input") if isinstance(body, dict) else None
    if isinstance(given, str):
        return given, 0
    texts, images = [], 0
    for part in given if isinstance(given, list) else []:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif isinstance(part, dict) and part.get("type") == "image_url":
            images += 1
    return "\n".join(texts), images


def moderation_response(body: Any, flag_words: dict[str, tuple[str, ...]],
                        flag_images: bool) -> tuple[int, dict[str, Any]]:
    if not isinstance(body, dict) or "input" not in body:
        return 400, {"error": {"message": "input is required", "type": "invalid_request_error",
                               "param": "input", "code": None}}
    text, images = _parts(body)
    flagged = {c for word, categories in flag_words.items() if word.lower() in text.lower()
               for c in categories}
    if images and flag_images:
        flagged.add("sexual")
    result = {
        "flagged": bool(flagged),
        "categories": {c: c in flagged for c in CATEGORIES},
        "category_scores": {c: 0.9 if c in flagged else 0.001 for c in CATEGORIES},
        "category_applied_input_types": {c: ["text"] + ["image"] * bool(images)
                                         for c in CATEGORIES},
    }
    return 200, {"id": "modr-fake", "model": body.get("model", "omni-moderation-latest"),
                 "results": [result]}
