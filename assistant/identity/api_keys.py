"""Per-user API keys: made here, kept by the store as SHA-256 digests only.

A key is shown once, when made. Checking one costs a database read at most every
`cache_seconds` per key, so the API's hot path does not hit the database each request;
a key revoked on another replica stops working there within `cache_seconds`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable, Protocol

from ..storage.records import ApiKey, clean_title

KEY_PREFIX = "sk-asst-"
NAME_CHARS = 60
MAX_CACHED = 10_000
_MAX_KEY_CHARS = 200  # ours are 51; anything much longer is not worth a lookup


class KeyStore(Protocol):
    """The part of the store (storage/repository.py) that keeps keys."""

    def add_api_key(self, owner: str, key_id: str, name: str, digest: str) -> None: ...

    def list_api_keys(self, owner: str) -> list[ApiKey]: ...

    def revoke_api_key(self, owner: str, key_id: str) -> bool: ...

    def api_key_owner(self, digest: str) -> str | None: ...


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, store: KeyStore, clock: Callable[[], float] = time.monotonic,
                 cache_seconds: float = 5.0) -> None:
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._cache: OrderedDict[str, tuple[str | None, float]] = OrderedDict()  # digest -> owner, until
        self._lock = threading.Lock()
        self._revocations = 0  # a lookup that a revocation overtook is not cached

    def create(self, owner: str, name: str) -> tuple[str, ApiKey]:
        """A new key for `owner`: its text, to show once, and its record."""
        key, key_id = KEY_PREFIX + secrets.token_urlsafe(32), "key_" + secrets.token_hex(6)
        name = clean_title(name)[:NAME_CHARS].strip()
        self.store.add_api_key(owner, key_id, name, digest_of(key))
        return key, ApiKey(key_id, name, time.time())

    def list(self, owner: str) -> list[ApiKey]:
        """Newest first; never the keys themselves."""
        return self.store.list_api_keys(owner)

    def revoke(self, owner: str, key_id: str) -> bool:
        """False if the owner has no such key. This process forgets the owner's cached keys
        at once; other replicas within `cache_seconds`."""
        revoked = self.store.revoke_api_key(owner, key_id)
        if revoked:
            self.forget(owner)
        return revoked

    def forget(self, owner: str) -> None:
        """Drops the owner's cached keys (revoked, or all their data deleted): this process
        asks the database again at once."""
        with self._lock:
            self._revocations += 1
            for digest in [d for d, (o, _) in self._cache.items() if o == owner]:
                del self._cache[digest]

    def cached(self, key: str) -> tuple[bool, str | None]:
        """(True, owner) when the answer is known without the database; never blocks."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_CHARS:
            return True, None
        with self._lock:
            found = self._cache.get(digest_of(key))
        return (True, found[0]) if found is not None and found[1] > self.clock() else (False, None)

    def owner_of(self, key: str) -> str | None:
        """The owner of a live key, else None. Blocks on a database read when not cached."""
        known, owner = self.cached(key)
        if known:
            return owner
        digest, now = digest_of(key), self.clock()
        with self._lock:
            revocations = self._revocations
        owner = self.store.api_key_owner(digest)
        with self._lock:
            if revocations != self._revocations:
                return owner
            self._cache[digest] = (owner, now + self.cache_seconds)
            self._cache.move_to_end(digest)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return owner
