"""Keys never reach a user or a log line."""

from __future__ import annotations

import re

_KEY_PATTERN = re.compile(r"\b(sk|sess|rk)-[A-Za-z0-9_\-*]{6,}|\bBearer\s+\S+", re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)
