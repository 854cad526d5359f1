"""What we know about named models: context window, list price, reasoning, vision.

The one place to update when OpenAI changes a price. Prices are US dollars per
million tokens (input, output), from OpenAI's public price list.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_CHECKED = "2026-11"


@dataclass(frozen=True)
class ModelInfo:
    context_window: int
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    reasoning: bool = False  # thinks before answering: no temperature, a reasoning summary
    vision: bool = False  # reads images in the user's messages


KNOWN_MODELS: dict[str, ModelInfo] = {
    "gpt-4.1": ModelInfo(1_047_576, 2.00, 8.00, vision=True),
    "gpt-4.1-mini": ModelInfo(1_047_576, 0.40, 1.60, vision=True),
    "gpt-4.1-nano": ModelInfo(1_047_576, 0.10, 0.40, vision=True),
    "gpt-4o": ModelInfo(128_000, 2.50, 10.00, vision=True),
    "gpt-4o-mini": ModelInfo(128_000, 0.15, 0.60, vision=True),
    "gpt-5": ModelInfo(400_000, 1.25, 10.00, reasoning=True, vision=True),
    "gpt-5-mini": ModelInfo(400_000, 0.25, 2.00, reasoning=True, vision=True),
    "gpt-5-nano": ModelInfo(400_000, 0.05, 0.40, reasoning=True, vision=True),
    "o4-mini": ModelInfo(200_000, 1.10, 4.40, reasoning=True, vision=True),
}

OPENAI_CHOICES = ("gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano", "gpt-4o-mini", "gpt-4o", "gpt-5-mini")


def model_info(name: str) -> ModelInfo | None:
    """Exact name first, then a dated snapshot such as 'gpt-4.1-mini-2025-04-14'."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    for known in sorted(KNOWN_MODELS, key=len, reverse=True):
        if name.startswith(known + "-"):
            return KNOWN_MODELS[known]
    return None


def sees_images(model: str) -> bool | None:
    """Whether `model` reads images: None when it is not a model we know."""
    info = model_info(model)
    return info.vision if info else None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    info = model_info(model)
    if info is None or info.input_per_mtok is None or info.output_per_mtok is None:
        return None
    return (prompt_tokens * info.input_per_mtok + completion_tokens * info.output_per_mtok) / 1e6
