"""Who an API request acts for: the owner of its key. The key is read the same way from
every header that may carry it, and checked once."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Callable, Mapping, Protocol

from starlette.requests import Request

from ..identity.api_keys import KEY_PREFIX
from ..identity.owners import user_name
from .errors import ApiError, no_key

KEY_HEADERS = ("api-key", "x-api-key")  # besides Authorization: Bearer


class KeyOwners(Protocol):
    def cached(self, key: str) -> tuple[bool, str | None]: ...

    def owner_of(self, key: str) -> str | None: ...


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The one key the request carries; two different keys are refused."""
    keys: set[str] = set()
    for name in ("authorization", *KEY_HEADERS):
        if len(getattr(headers, "getlist", lambda _: [])(name)) > 1:
            raise ApiError(401, "Send one API key, in one header.", code="invalid_api_key")
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise no_key()
        keys.add(value.strip())
    for name in KEY_HEADERS:
        other = headers.get(name)
        if other is not None:
            keys.add(other.strip())
    if len(keys) > 1:
        raise ApiError(401, "The request carries two different API keys; send one.",
                       code="invalid_api_key")
    return keys.pop() if keys else None


def from_loopback(request: Request) -> bool:
    """A program on this machine: not forwarded by a proxy on it, nor a web page (a site
    the user visits could otherwise spend the local demo's model)."""
    headers = request.headers
    if "x-forwarded-for" in headers or "origin" in headers or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


class Access:
    """`open_locally`: a local demo (loopback, no sign-in, not shared), where this
    machine's clients need no key and act as nobody: their chats are not kept.
    `is_user`: whether a password user may still sign in, when sign-in is by password."""

    def __init__(self, keys: KeyOwners, open_locally: bool,
                 is_user: Callable[[str], bool] | None = None) -> None:
        self.keys = keys
        self.open_locally = open_locally
        self.is_user = is_user

    async def owner(self, request: Request) -> str | None:
        key = presented_key(request.headers)
        if self.open_locally and from_loopback(request) and \
                (key is None or not key.startswith(KEY_PREFIX)):
            return None  # the SDK always sends some key; a local demo's programs need none
        if key is None:
            raise no_key()
        known, owner = self.keys.cached(key)
        if not known:
            owner = await asyncio.to_thread(self.keys.owner_of, key)
        if owner is None:
            raise no_key()
        name = user_name(owner)
        if name is not None and self.is_user is not None and not self.is_user(name):
            raise ApiError(401, "This key's user is not a user of this server (any more), so "
                           "the key does not work.", code="invalid_api_key")
        return owner
