"""OpenAI's error bodies and status codes, as the official SDKs expect them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from starlette.responses import Response

from ..domain.failures import Failure

# Upstream failures that say "try again later" rather than "this is broken".
UNAVAILABLE = frozenset(("unavailable", "unreachable", "timeout", "overloaded", "rate_limit",
                         "stalled", "dropped", "moderation_unavailable"))


@dataclass
class ApiError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    def response(self) -> Response:
        return Response(json.dumps(self.body()), self.status, dict(self.headers),
                        media_type="application/json")


def bad_input(message: str, param: str | None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def no_key() -> ApiError:
    return ApiError(401, "A valid API key is needed: send it as 'Authorization: Bearer KEY'. "
                    "Make one in the page's \"API keys\" panel.", code="invalid_api_key")


def limit_hit(message: str, retry_after: float | None) -> ApiError:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else {}
    return ApiError(429, message, "rate_limit_exceeded", code="rate_limit_exceeded",
                    headers=headers)


def upstream_failed(failure: Failure) -> ApiError:
    """The model server failed before the reply began: 503 when it may work later, else 502."""
    if failure.kind in UNAVAILABLE:
        headers = {"Retry-After": str(max(1, math.ceil(failure.retry_after)))} \
            if failure.retry_after else {}
        return ApiError(503, failure.message, "server_error", code=failure.kind,
                        headers=headers)
    return ApiError(502, failure.message, "server_error", code=failure.kind)
