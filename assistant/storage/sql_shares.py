"""Share links: read-only snapshots of a chat, opened by a long random token.

A snapshot is written once, when the link is made, so it never changes when the chat
goes on. Deleting the chat (or all of the owner's data) deletes its links, and an
expired link is as gone as a revoked one.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Mapping

from .records import NotFound, Share, check_owner
from .sql_dialect import Conn, Dialect

AUDIENCES = ("anyone", "signed_in")
TOKEN_BYTES = 24  # 192 bits: not to be guessed or enumerated


class ChatSharing:
    """Mixed into SQLStore."""

    _sql: Dialect

    def create_share(self, owner: str, conversation_id: str, snapshot: Mapping[str, Any],
                     audience: str = "anyone", expires: float | None = None) -> str:
        """A new link to `snapshot` (see storage/snapshots.py) of the owner's chat; its
        token. NotFound if the chat is not the owner's."""
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
        owner, token = check_owner(owner), secrets.token_urlsafe(TOKEN_BYTES)
        body = json.dumps(dict(snapshot), ensure_ascii=False)

        def run(conn: Conn) -> str:
            found = self._sql.execute(conn, "SELECT title FROM conversations WHERE id = ?"
                                      " AND owner = ?", conversation_id, owner).fetchone()
            if found is None:
                raise NotFound(conversation_id)
            self._sql.execute(conn, "INSERT INTO shares (token, owner, conversation_id, title,"
                              " snapshot, audience, created, expires) VALUES (?, ?, ?, ?, ?, ?,"
                              " ?, ?)", token, owner, conversation_id,
                              str(snapshot.get("title") or found[0]), body, audience,
                              time.time(), expires)
            return token
        return self._sql.db.write(run)

    def list_shares(self, owner: str) -> list[Share]:
        """The owner's links, newest first, without their snapshots."""
        with self._sql.db.read() as conn:
            rows = self._sql.execute(
                conn, "SELECT token, conversation_id, title, audience, created, expires"
                " FROM shares WHERE owner = ? ORDER BY created DESC, token",
                check_owner(owner)).fetchall()
        return [Share(*row) for row in rows]

    def revoke_share(self, owner: str, token: str) -> bool:
        owner = check_owner(owner)
        return self._sql.db.write(lambda conn: int(self._sql.execute(
            conn, "DELETE FROM shares WHERE token = ? AND owner = ?", str(token),
            owner).rowcount) > 0)

    def open_share(self, token: str, now: float | None = None) -> Share | None:
        """The link and its snapshot, for anyone who has the token; None once revoked,
        expired, or its chat deleted."""
        with self._sql.db.read() as conn:
            row = self._sql.execute(
                conn, "SELECT token, conversation_id, title, audience, created, expires,"
                " snapshot, owner FROM shares WHERE token = ?", str(token)).fetchone()
        if row is None or (row[5] is not None and row[5] <= (time.time() if now is None else now)):
            return None
        return Share(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7])
