"""Documents and their passages in the SQLite file, each owned by one user.

The stored files themselves are the library's (documents/library.py); this keeps
their rows. Removing a document removes its passages and vectors by cascade, and
secure_delete (database.py) zeroes them in the file.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Sequence

from ..records import StoredDocument, StoredPassage, check_owner, clean_text
from ..repository import PassageRow
from .database import Database

DOCUMENT_SELECT = ("SELECT d.id, d.name, d.kind, d.size, d.pages,"
             " (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id), d.created, d.path"
             " FROM documents d")
PASSAGE_SELECT = ("SELECT p.id, p.document_id, d.name, p.ordinal, p.page, p.heading, p.text, p.vector"
            " FROM passages p JOIN documents d ON d.id = p.document_id")


class SQLiteDocuments:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_document(self, owner: str, document_id: str, name: str, kind: str, size: int,
                     pages: int, path: str, passages: Sequence[PassageRow]) -> None:
        row = (document_id, check_owner(owner), clean_text(name), kind, size, pages, path,
               time.time())

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO documents (id, owner, name, kind, size, pages, path, created)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            conn.executemany(
                "INSERT INTO passages (document_id, owner, ordinal, page, heading, text, vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(document_id, owner, o, page, clean_text(h), clean_text(t), v)
                 for o, page, h, t, v in passages])

        self._db.write(run)

    def list_documents(self, owner: str) -> list[StoredDocument]:
        """Oldest first."""
        return self._read_documents(" WHERE d.owner = ? ORDER BY d.created, d.rowid", owner)

    def get_document(self, owner: str, document_id: str) -> StoredDocument | None:
        found = self._read_documents(" WHERE d.owner = ? AND d.id = ?", owner, document_id)
        return found[0] if found else None

    def remove_document(self, owner: str, document_id: str) -> StoredDocument | None:
        """Removes the document and its passages; returns what it was, None if not the owner's."""
        found = self.get_document(owner, document_id)
        if found is None:
            return None

        def run(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute("DELETE FROM documents WHERE id = ? AND owner = ?",
                                   (document_id, owner)).rowcount > 0
            if deleted:
                self._db.checkpoint_after_commit()
            return deleted

        return found if self._db.write(run) else None

    def passages(self, owner: str) -> list[StoredPassage]:
        """Every passage of the owner's documents, in document and reading order."""
        return self._read_passages(" WHERE p.owner = ? ORDER BY d.created, d.rowid, p.ordinal",
                                   owner)

    def passage(self, owner: str, passage_id: int) -> StoredPassage | None:
        found = self._read_passages(" WHERE p.owner = ? AND p.id = ?", owner, int(passage_id))
        return found[0] if found else None

    def neighbours(self, owner: str, document_id: str, ordinal: int,
                   span: int) -> list[StoredPassage]:
        """The passages from `ordinal - span` to `ordinal + span` of one document, in order."""
        return self._read_passages(
            " WHERE p.owner = ? AND p.document_id = ? AND p.ordinal BETWEEN ? AND ?"
            " ORDER BY p.ordinal", owner, document_id, ordinal - span, ordinal + span)

    def _read_documents(self, where: str, owner: str, *params: Any) -> list[StoredDocument]:
        with self._db.read() as conn:
            rows = conn.execute(DOCUMENT_SELECT + where, (check_owner(owner), *params)).fetchall()
        return [StoredDocument(*row) for row in rows]

    def _read_passages(self, where: str, owner: str, *params: Any) -> list[StoredPassage]:
        with self._db.read() as conn:
            rows = conn.execute(PASSAGE_SELECT + where, (check_owner(owner), *params)).fetchall()
        return [StoredPassage(*row) for row in rows]
