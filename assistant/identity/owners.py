"""Who is asking: the owner of a browser session, and which conversation it has open.

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
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

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
        if not isinstance(token, str) or token.count(".") != 1:
            return None
        ident, signature = token.split(".")
        if ident and hmac.compare_digest(signature, self._sign(ident)):
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
        key = session_hash or ""
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = Session()
                if len(self._sessions) > MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(key)
            return session

    def ensure_conversation(self, session_hash: str | None, create: Callable[[], str]) -> str:
        """The open conversation's id, creating it once even if two events race."""
        session = self.get(session_hash)
        with session.lock:  # per session: other sessions' first turns never wait on this one
            if session.conversation_id is None:
                session.open(create())
            return session.conversation_id or ""


def user_owner(username: str | None) -> str | None:
    return f"user:{username}" if username else None


def _session_of(request: Any) -> Mapping[str, Any]:
    """The request's signed session cookie (Starlette's), as Gradio's OAuth login fills it."""
    underlying = getattr(request, "request", None) or request
    scope = getattr(underlying, "scope", None)
    session = scope.get("session") if isinstance(scope, dict) else getattr(underlying, "session", None)
    return session if isinstance(session, Mapping) else {}


def hf_owner(request: Any, now: Callable[[], float] = time.time) -> str | None:
    """The Hugging Face user signed in with gr.LoginButton, while the sign-in is valid."""
    info = _session_of(request).get("oauth_info")
    if not isinstance(info, Mapping):
        return None
    expires = info.get("expires_at")
    if isinstance(expires, (int, float)) and expires < now():
        return None
    userinfo = info.get("userinfo")
    name = userinfo.get("preferred_username") if isinstance(userinfo, Mapping) else None
    return f"hf:{name}" if isinstance(name, str) and name else None


SIGNED_IN = ("user:", "hf:")


class Identity:
    """Resolves the owner of a request: a signed-in user, else a signed token, else the session's.

    `hf_login`: the page has "Sign in with Hugging Face", so its session cookie is read.
    `login`: the page asks for a user name and password.
    """

    def __init__(self, tokens: OwnerTokens, sessions: Sessions, hf_login: bool = False,
                 login: bool = False) -> None:
        self.tokens = tokens
        self.sessions = sessions
        self.hf_login = hf_login
        self.signs_in = login or hf_login  # a page's owner may then come without a token

    def owner(self, request: Any, token: Any = None) -> str | None:
        return (user_owner(getattr(request, "username", None))
                or (hf_owner(request) if self.hf_login else None)
                or self.tokens.owner(token)
                or self.sessions.get(getattr(request, "session_hash", None)).owner)

    def owner_or_new(self, request: Any, token: Any = None) -> str:
        """The owner, else a new anonymous one for this session, its token in `session.token`.

        A page gets its id on its first write, so that opening a page costs no request.
        """
        owner = self.owner(request, token)
        if owner is not None:
            return owner
        session = self.sessions.get(getattr(request, "session_hash", None))
        with session.lock:
            if session.owner is None:
                session.token = self.tokens.new()
                session.owner = self.tokens.owner(session.token)
            return session.owner or ""

    def page_token(self, request: Any, token: Any) -> Any:
        """The token the page should hold: the one this session minted if the page holds
        none valid, else the page's own (sent back unchanged)."""
        minted = self.sessions.get(getattr(request, "session_hash", None)).token
        return minted if minted and self.tokens.owner(token) is None else token
