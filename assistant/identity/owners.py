"""Owners and sessions: signed anonymous ids, signed-in names, and the conversation each
browser session has open (../web/callers.py tells who a request comes from).

With login on, the owner is the user name ("user:NAME"), or the Hugging Face user
name after "Sign in with Hugging Face" ("hf:NAME"). Without either, the browser keeps an
anonymous id signed with a server secret that survives restarts (Gradio's own
BrowserState secret changes at every start, which would lose every chat).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

SECRET_FILE = "secret.key"
MAX_SESSIONS = 20_000


def load_secret(configured: str | None, data_dir: Path) -> str:
    """The configured secret, else one kept in the data directory (created once)."""
    if configured:
        return configured
    path = data_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(secret)
        return secret


def browser_storage_key(secret: str) -> str:
    """The key the browser encrypts its stored token with: it is sent to every page, so it
    is derived one way from the secret, never the secret itself."""
    return hashlib.sha256(("browser-storage:" + secret).encode()).hexdigest()


class OwnerTokens:
    """Anonymous ids as `random.signature`, so a browser can hold one but nobody can forge one."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("owner-token:" + secret).encode()).digest()

    def _sign(self, ident: str) -> str:
        return hmac.new(self._key, ident.encode(), hashlib.sha256).hexdigest()[:32]

    def new(self) -> str:
        ident = secrets.token_urlsafe(18)
        return f"{ident}.{self._sign(ident)}"

    def owner(self, token: Any) -> str | None:
        if not isinstance(token, str) or not token.isascii() or token.count(".") != 1:
            return None
        ident, signature = token.split(".")
        if ident and same_signature(signature, self._sign(ident)):
            return f"anon:{ident}"
        return None


@dataclass
class Session:
    owner: str | None = None
    token: str | None = None  # minted for this session, for the page to keep
    conversation_id: str | None = None
    reply_stopped: bool = False  # Stop was pressed; the next turn marks the last reply
    picked: int | None = None  # the stored message last clicked in the chat
    has_conversation: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, conversation_id: str | None) -> None:
        self.conversation_id = conversation_id
        self.picked = None
        if conversation_id is None:
            self.has_conversation.clear()
        else:
            self.has_conversation.set()


class Sessions:
    """Per browser session (Gradio's session_hash): its owner and open conversation."""

    def __init__(self) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_hash: str | None) -> Session:
        """A caller without a session (a bare HTTP call) gets one of its own, kept by nobody:
        such callers never share an owner, a chat or a key."""
        if not session_hash:
            return Session()
        with self._lock:
            session = self._sessions.get(session_hash)
            if session is None:
                session = self._sessions[session_hash] = Session()
                if len(self._sessions) > MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(session_hash)
            return session

    def ensure_conversation(self, session_hash: str | None, create: Callable[[], str]) -> str:
        """The open conversation's id, creating it once even if two events race."""
        session = self.get(session_hash)
        with session.lock:  # per session: other sessions' first turns never wait on this one
            if session.conversation_id is None:
                session.open(create())
            return session.conversation_id or ""


def same_signature(given: str, expected: str) -> bool:
    """In constant time; False for text no signature has (non-ASCII, lone surrogates)."""
    return given.isascii() and hmac.compare_digest(given.encode(), expected.encode())


def user_owner(username: str | None) -> str | None:
    return f"user:{username}" if username else None


def user_name(owner: str) -> str | None:
    """The password user an owner id names, if it names one."""
    return owner[len("user:"):] if owner.startswith("user:") else None


def hf_user_owner(name: str) -> str:
    return f"hf:{name}"


SIGNED_IN = ("user:", "hf:")
