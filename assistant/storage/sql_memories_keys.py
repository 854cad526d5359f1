"""What an owner keeps beside their chats: saved facts (memories) and the digests of their
API keys (identity/api_keys.py makes and checks the keys; only digests are stored)."""

from __future__ import annotations

import time
from typing import Any

from .records import ApiKey, Memory, check_owner, clean_text, clean_title
from .sql_dialect import Conn, Dialect


class MemoriesAndKeys:
    """Mixed into SQLStore, whose `_delete` also scrubs what was deleted from the disk."""

    _sql: Dialect

    def _delete(self, conn: Conn, sql: str, *params: Any, forget_text: bool = False) -> bool:
        raise NotImplementedError

    # Memories

    def add_memory(self, owner: str, text: str) -> int:
        row = (check_owner(owner), clean_text(str(text)).strip(), time.time())
        if not row[1]:
            raise ValueError("the memory is empty")
        return self._sql.db.write(lambda conn: self._sql.insert(
            conn, "INSERT INTO memories (owner, text, created) VALUES (?, ?, ?)", *row))

    def list_memories(self, owner: str) -> list[Memory]:
        """Oldest first."""
        with self._sql.db.read() as conn:
            return [Memory(*row) for row in self._sql.execute(
                conn, "SELECT id, text, created FROM memories WHERE owner = ? ORDER BY id",
                check_owner(owner)).fetchall()]

    def delete_memory(self, owner: str, memory_id: int) -> bool:
        return self._sql.db.write(self._delete, "DELETE FROM memories WHERE id = ? AND owner = ?",
                              int(memory_id), check_owner(owner))

    # API keys

    def add_api_key(self, owner: str, key_id: str, name: str, digest: str) -> None:
        row = (key_id, check_owner(owner), clean_title(name), digest, time.time())
        self._sql.db.write(lambda conn: self._sql.execute(
            conn, "INSERT INTO api_keys (id, owner, name, digest, created) VALUES (?, ?, ?, ?, ?)",
            *row))

    def list_api_keys(self, owner: str) -> list[ApiKey]:
        """Newest first."""
        with self._sql.db.read() as conn:
            return [ApiKey(*row) for row in self._sql.execute(
                conn, "SELECT id, name, created FROM api_keys WHERE owner = ?"
                " ORDER BY created DESC, id", check_owner(owner)).fetchall()]

    def revoke_api_key(self, owner: str, key_id: str) -> bool:
        return self._sql.db.write(self._delete, "DELETE FROM api_keys WHERE id = ? AND owner = ?",
                              str(key_id), check_owner(owner))

    def api_key_owner(self, digest: str) -> str | None:
        with self._sql.db.read() as conn:
            row = self._sql.execute(conn, "SELECT owner FROM api_keys WHERE digest = ?",
                                    digest).fetchone()
        return str(row[0]) if row else None
