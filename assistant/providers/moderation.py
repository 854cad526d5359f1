"""OpenAI's moderation model, through the SDK: text and images in, a verdict out."""

from __future__ import annotations

from typing import Any, Sequence

import openai
from openai import AsyncOpenAI

from ..domain.messages import Image
from ..domain.moderation import ModerationUnavailable, Verdict
from .chat_completions import data_url

MODEL = "omni-moderation-latest"


class OpenAIModeration:
    """Checks a message on `client`'s server (`/v1/moderations`)."""

    def __init__(self, client: AsyncOpenAI, timeout: float = 10.0) -> None:
        self.client = client.with_options(timeout=timeout, max_retries=1)

    async def check(self, text: str, images: Sequence[Image]) -> Verdict:
        inputs: list[Any] = [{"type": "text", "text": text}] if text else []
        inputs += [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in images]
        try:
            answer = await self.client.moderations.create(model=MODEL, input=inputs)
            flagged = any(r.flagged for r in answer.results)
            categories = tuple(dict.fromkeys(
                name for r in answer.results
                for name, on in r.categories.model_dump(by_alias=True).items() if on))
        except (openai.APIError, ValueError, AttributeError) as exc:  # also timeouts and drops
            raise ModerationUnavailable(type(exc).__name__) from None
        if not answer.results:
            raise ModerationUnavailable("no result")
        return Verdict(flagged, categories)
