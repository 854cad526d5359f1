"""The real openai SDK pointed at our fake server: what the fake's self-tests share."""

from __future__ import annotations

from typing import Any

import openai

from fakes.fake_openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "Say hello"}]


def sdk_client(fake: FakeOpenAI, timeout: float = 5.0, max_retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=max_retries,
                              timeout=timeout)


def joined_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
