"""Who is asking: the owner behind a Gradio request.

With login on, the owner is the user name ("user:NAME"), or the Hugging Face user
name after "Sign in with Hugging Face" ("hf:NAME"). Without either, the browser keeps an
anonymous id signed with a server secret that survives restarts (Gradio's own
BrowserState secret changes at every start, which would lose every chat).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from ..identity.owners import OwnerTokens, Sessions, hf_user_owner, user_owner


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
    return hf_user_owner(name) if isinstance(name, str) and name else None


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

    def signed_in(self, request: Any) -> str | None:
        """The owner who signed in (with a password or Hugging Face), else None."""
        return (user_owner(getattr(request, "username", None))
                or (hf_owner(request) if self.hf_login else None))

    def owner(self, request: Any, token: Any = None) -> str | None:
        return (self.signed_in(request)
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
