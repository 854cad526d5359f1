"""A password file: one `name:scrypt$n$r$p$salt$hash` line per user, never a plain password.

Hashes are scrypt from the standard library (memory-hard, salted per user); checking
compares in constant time. `python -m assistant.passwords add NAME` writes the file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

SCHEME = "scrypt"
RECHECK_SECONDS = 1.0  # how soon a removed user's API keys stop
N, R, P = 2**14, 8, 1  # about 16 MB and 50 ms a check
_KEY_BYTES = 32


class PasswordFileError(ValueError):
    """The file has a line this module did not write."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(key)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_name(name: str) -> str:
    if not name or ":" in name or any(c.isspace() for c in name):
        raise ValueError("a user name cannot be empty or hold ':' or spaces")
    return name


def read_file(path: Path) -> dict[str, str]:
    """User name -> stored hash; blank lines and `#` comments are skipped."""
    users: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not stored.startswith(SCHEME + "$"):
            raise PasswordFileError(f"{path}, line {number}: not a 'name:{SCHEME}$…' line "
                                    "(make lines with: python -m assistant.passwords add NAME)")
        users[name] = stored
    return users


def write_user(path: Path, name: str, password: str) -> None:
    """Adds the user, or replaces their password; the file is readable by its owner only."""
    path = Path(path)
    users = read_file(path) if path.exists() else {}
    users[check_name(name)] = hash_password(password)
    _write(path, users)


def remove_user(path: Path, name: str) -> bool:
    users = read_file(path)
    if users.pop(name, None) is None:
        return False
    _write(Path(path), users)
    return True


def _write(path: Path, users: dict[str, str]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.writelines(f"{name}:{stored}\n" for name, stored in users.items())
    os.replace(temporary, path)


class PasswordFile:
    """Gradio's `auth` callable over a password file, re-read when the file changes."""

    def __init__(self, path: Path, extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.path = Path(path)
        self.extra = dict(extra)  # --auth pairs, which keep working beside the file
        self._stamp: tuple[float, int] | None = None
        self._users: dict[str, str] = {}
        self._dummy = hash_password(secrets.token_urlsafe())  # unknown names cost the same
        self._looked = time.monotonic()
        self._load()  # a bad file stops the start, with the line that is wrong

    def _load(self) -> None:
        stat = self.path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._users, self._stamp = read_file(self.path), stamp

    def _refresh(self) -> None:
        try:
            self._load()
        except (OSError, PasswordFileError):
            pass  # keep the users last read

    def knows(self, username: str) -> bool:
        """Whether the user may still sign in (a removed user's API keys stop working). The
        file is looked at once a second at most: this runs on the server's loop."""
        if username in self.extra:
            return True
        now = time.monotonic()
        if now - self._looked >= RECHECK_SECONDS:
            self._looked = now
            self._refresh()
        return username in self._users

    def __call__(self, username: str, password: str) -> bool:
        if username in self.extra:
            return hmac.compare_digest(self.extra[username].encode(), password.encode())
        self._refresh()
        stored = self._users.get(username)
        if stored is None:
            verify_password(password, self._dummy)
            return False
        return verify_password(password, stored)
