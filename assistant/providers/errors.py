"""One table from the SDK's exceptions to the failures users read.

A user never sees an exception class, a stack trace or any part of a key.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import replace
from typing import Any

import openai

from ..domain.failures import MALFORMED, NO_IMAGES, Failure
from ..domain.redaction import redact

_MAX_UPSTREAM_REASON = 300
# OpenAI: "image_url is only supported by certain models"; llama.cpp (a 500): "image input
# is not supported"; vLLM: "does not support multimodal inputs". Not "unsupported image",
# which is OpenAI's word for an image it could not decode.
_IMAGES = re.compile(r"image|vision|multi-?modal", re.IGNORECASE)
_NOT_SUPPORTED = re.compile(r"(not|n't) support|only supported|invalid content type|"
                            r"not a multi-?modal|not configured", re.IGNORECASE)


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _upstream_reason(exc: openai.APIError, secrets: tuple[str, ...]) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    reason = body.get("message") if isinstance(body.get("message"), str) else None
    reason = reason or (exc.message if isinstance(exc.message, str) else "")
    reason = redact(reason.strip(), secrets)
    if len(reason) > _MAX_UPSTREAM_REASON:
        reason = reason[:_MAX_UPSTREAM_REASON] + "…"
    return reason


def _code(exc: openai.APIError) -> str:
    code = getattr(exc, "code", None)
    if not code and isinstance(exc.body, dict):
        code = exc.body.get("code") or exc.body.get("type")
    return str(code or "")


def is_stream_unsupported(exc: BaseException) -> bool:
    """The server says it cannot stream (so a non-streaming request may work)."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    text = f"{exc.message} {getattr(exc, 'param', '')}".lower()
    return "stream" in text and ("support" in text or getattr(exc, "param", None) == "stream")


def refuses_images(reason: str) -> bool:
    """The server says this model cannot take images."""
    return bool(_IMAGES.search(reason) and _NOT_SUPPORTED.search(reason))


def describe(exc: BaseException, *, model: str, host: str, read_timeout: float,
             secrets: tuple[str, ...] = (), endpoint: str = "chat completions") -> Failure:
    """What went wrong, in words for the user, from any exception the upstream can cause."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = _code(exc)
        reason = _upstream_reason(exc, secrets)
        after = _retry_after(exc.response.headers if exc.response is not None else None)
        if status == 401:
            return Failure("auth", "The model server rejected the API key (401). "
                           "Check OPENAI_API_KEY (or the key for your server).", status=status)
        if status == 403:
            return Failure("permission", f"This API key has no access to “{model}” or to this "
                           "endpoint (403).", status=status)
        if status == 404:
            if "model" in code or "model" in reason.lower():
                return Failure("model_not_found", f"The model “{model}” was not found (404). "
                               "Pick one from the Model list in the sidebar.", status=status)
            advice = ("Check the base URL; it usually ends in /v1." if endpoint == "chat completions"
                      else "Choose Chat Completions under API in the sidebar.")
            return Failure("not_found", f"{host} has no {endpoint} endpoint (404). {advice}",
                           status=status)
        if status == 429 and code == "insufficient_quota":
            return Failure("quota", "The account behind this API key is out of credit "
                           "(insufficient_quota). Add credit or use another key.", status=status)
        if status == 429:
            return Failure("rate_limit", "The model server is rate limiting requests (429).",
                           retryable=True, retry_after=after, status=status)
        if status in (400, 422, 500) and refuses_images(reason):
            return replace(NO_IMAGES, status=status)
        if status == 400 and ("content_filter" in code or "content management policy" in reason):
            return Failure("content_filter", "The request was blocked by the model server's "
                           "content filter.", status=status)
        if status in (400, 422):
            return Failure("bad_request", "The model server refused the request: "
                           f"{reason or 'no reason given'}", status=status)
        if status in (408, 409) or status >= 500:
            return Failure("overloaded", f"The model server is overloaded or failing ({status}).",
                           retryable=True, retry_after=after, status=status)
        return Failure("http_error", f"The model server answered with an error ({status}): {reason}",
                       status=status)
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", f"{host} sent nothing for {read_timeout:g} s.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("unreachable", f"Could not reach the model server at {host}.", retryable=True)
    if isinstance(exc, openai.APIError):  # an error event inside the stream
        return reported_error(_upstream_reason(exc, secrets))
    if isinstance(exc, json.JSONDecodeError):
        return MALFORMED
    return Failure("internal", "Something went wrong on our side. The details are in the server log.")


def describe_dropped(exc: BaseException, *, host: str, read_timeout: float,
                     secrets: tuple[str, ...] = ()) -> Failure:
    """A failure after the reply started: same words, but never retryable."""
    if isinstance(exc, openai.APITimeoutError):
        return Failure("stalled", f"The reply stalled: {host} sent nothing for {read_timeout:g} s.")
    if isinstance(exc, openai.APIConnectionError):
        return Failure("dropped", "The connection to the model server dropped.")
    failure = describe(exc, model="", host=host, read_timeout=read_timeout, secrets=secrets)
    return Failure(failure.kind, failure.message, status=failure.status)


def reported_error(reason: str, secrets: tuple[str, ...] = ()) -> Failure:
    """An error the server reported inside a stream that had started."""
    reason = redact(reason.strip(), secrets)[:_MAX_UPSTREAM_REASON]
    return Failure("stream_error", "The model server reported an error"
                   + (f": {reason}" if reason else "."))
