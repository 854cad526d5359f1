"""Keys never reach a user or a log line."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_KEY_PATTERN = re.compile(r"\b(sk|sess|rk)-[A-Za-z0-9_\-*]{6,}|\bBearer\s+\S+", re.IGNORECASE)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub("[redacted]", text)


def shown_url(value: str) -> str:
    """A URL as a message may show it: without its user, password or query."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # a bracket out of place: nothing of it is shown beyond the scheme
        return value.partition("://")[0] + "://…" if "://" in value else value
    if not parts.scheme or not parts.netloc:
        return value
    host = parts.netloc.rpartition("@")[2]
    user = "…@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{user}{host}{parts.path}" + ("?…" if parts.query else "")
