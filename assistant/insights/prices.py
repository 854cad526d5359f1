"""What a model's tokens cost: OpenAI's list prices, for an estimate on the dashboard.

Prices are US dollars per million input and output tokens, as OpenAI lists them for
standard processing (December 2025); a dated or suffixed name (gpt-4o-mini-2024-07-18)
takes its family's price. The embedded model costs nothing; another server's price is
unknown.
"""

from __future__ import annotations

PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}
_LONGEST_FIRST = sorted(PER_MILLION, key=len, reverse=True)


def cost(kind: str | None, model: str, prompt_tokens: int, completion_tokens: int
         ) -> float | None:
    """Dollars, or None when not known. `kind`: the backend's (openai, custom, local)."""
    if kind == "local":
        return 0.0
    if kind != "openai":
        return None
    family = next((name for name in _LONGEST_FIRST
                   if model == name or model.startswith(name + "-")), None)
    if family is None:
        return None
    given, made = PER_MILLION[family]
    return (prompt_tokens * given + completion_tokens * made) / 1e6
