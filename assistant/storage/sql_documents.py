"""Documents and their passages in the database, each owned by one user (SQL as in sql_store.py).

The stored files themselves are the library's (documents/library.py); this keeps
their rows. Removing a document removes its passages and vectors by cascade, and the
dialect has them leave the disk (SQLite's secure_delete and checkpoint, PostgreSQL's VACUUM).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Sequence

from .records import StoredDocument, StoredPassage, check_owner, clean_text
from .repository import PassageRow

if TYPE_CHECKING:
    from .sql_dialect import Conn, Dialect

DOCUMENT_SELECT = ("SELECT d.id, d.name, d.kind, d.size, d.pages,"
                   " (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id), d.created, d.path"
                   " FROM documents d")
PASSAGE_SELECT = ("SELECT p.id, p.document_id, d.name, p.ordinal, p.page, p.heading, p.text, p.vector"
                  " FROM passages p JOIN documents d ON d.id = p.document_id")


class SQLDocuments:
    def __init__(self, dialect: Dialect) -> None:
        self._sql = dialect
        self._db = dialect.db

    def add_document(self, owner: str, document_id: str, name: str, kind: str, size: int,
                     pages: int, path: str, passages: Sequence[PassageRow]) -> None:
        row = (document_id, check_owner(owner), clean_text(name), kind, size, pages, path,
               time.time())

        def run(conn: Conn) -> None:
            self._sql.execute(conn, "INSERT INTO documents (id, owner, name, kind, size, pages,"
                              " path, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", *row)
            self._sql.execute_many(
                conn, "INSERT INTO passages (document_id, owner, ordinal, page, heading, text,"
                " vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(document_id, owner, o, page, clean_text(h), clean_text(t), v)
                 for o, page, h, t, v in passages])

        self._db.write(run)

    def list_documents(self, owner: str) -> list[StoredDocument]:
        """Oldest first."""
        return self._read_documents(f" WHERE d.owner = ? ORDER BY d.created, d.{self._sql.order}",
                                    owner)

    def get_document(self, owner: str, document_id: str) -> StoredDocument | None:
        found = self._read_documents(" WHERE d.owner = ? AND d.id = ?", owner, document_id)
        return found[0] if found else None

    def remove_document(self, owner: str, document_id: str) -> StoredDocument | None:
        """Removes the document and its passages; returns what it was, None if not the owner's."""
        found = self.get_document(owner, document_id)
        if found is None:
            return None

        def run(conn: Conn) -> bool:
            deleted = int(self._sql.execute(conn, "DELETE FROM documents WHERE id = ? AND owner = ?",
                                            document_id, owner).rowcount) > 0
            if deleted:
                self._sql.scrub_after_commit(("documents", "passages"))
            return deleted

        return found if self._db.write(run) else None

    def passages(self, owner: str) -> list[StoredPassage]:
        """Every passage of the owner's documents, in document and reading order."""
        return self._read_passages(
            f" WHERE p.owner = ? ORDER BY d.created, d.{self._sql.order}, p.ordinal", owner)

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
            rows = self._sql.execute(conn, DOCUMENT_SELECT + where,
                                     check_owner(owner), *params).fetchall()
        return [StoredDocument(*row) for row in rows]

    def _read_passages(self, where: str, owner: str, *params: Any) -> list[StoredPassage]:
        with self._db.read() as conn:
            rows = self._sql.execute(conn, PASSAGE_SELECT + where,
                                     check_owner(owner), *params).fetchall()
        return [StoredPassage(id, document_id, name, ordinal, page, heading, text,
                              None if vector is None else bytes(vector))
                for id, document_id, name, ordinal, page, heading, text, vector in rows]
