"""Documents and their passages in PostgreSQL, each owned by one user (as ../sqlite/documents.py)."""

from __future__ import annotations

import time
from typing import Any, Sequence

import psycopg

from ..records import StoredDocument, StoredPassage, check_owner, clean_text
from ..repository import PassageRow
from ..sqlite.documents import DOCUMENT_SELECT, PASSAGE_SELECT  # the same SQL
from .database import Database


class PostgresDocuments:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_document(self, owner: str, document_id: str, name: str, kind: str, size: int,
                     pages: int, path: str, passages: Sequence[PassageRow]) -> None:
        row = (document_id, check_owner(owner), clean_text(name), kind, size, pages, path,
               time.time())

        def run(conn: psycopg.Connection[Any]) -> None:
            conn.execute("INSERT INTO documents (id, owner, name, kind, size, pages, path, created)"
                         " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO passages (document_id, owner, ordinal, page, heading, text,"
                    " vector) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [(document_id, owner, o, page, clean_text(h), clean_text(t), v)
                     for o, page, h, t, v in passages])

        self._db.write(run)

    def list_documents(self, owner: str) -> list[StoredDocument]:
        return self._read_documents(" WHERE d.owner = %s ORDER BY d.created, d.seq", owner)

    def get_document(self, owner: str, document_id: str) -> StoredDocument | None:
        found = self._read_documents(" WHERE d.owner = %s AND d.id = %s", owner, document_id)
        return found[0] if found else None

    def remove_document(self, owner: str, document_id: str) -> StoredDocument | None:
        found = self.get_document(owner, document_id)
        if found is None:
            return None

        def run(conn: psycopg.Connection[Any]) -> bool:
            deleted = conn.execute("DELETE FROM documents WHERE id = %s AND owner = %s",
                                   (document_id, owner)).rowcount > 0
            if deleted:
                self._db.vacuum_after_commit("documents", "passages")
            return deleted

        return found if self._db.write(run) else None

    def passages(self, owner: str) -> list[StoredPassage]:
        return self._read_passages(" WHERE p.owner = %s ORDER BY d.created, d.seq, p.ordinal",
                                   owner)

    def passage(self, owner: str, passage_id: int) -> StoredPassage | None:
        found = self._read_passages(" WHERE p.owner = %s AND p.id = %s", owner, int(passage_id))
        return found[0] if found else None

    def neighbours(self, owner: str, document_id: str, ordinal: int,
                   span: int) -> list[StoredPassage]:
        return self._read_passages(
            " WHERE p.owner = %s AND p.document_id = %s AND p.ordinal BETWEEN %s AND %s"
            " ORDER BY p.ordinal", owner, document_id, ordinal - span, ordinal + span)

    def _read_documents(self, where: str, owner: str, *params: Any) -> list[StoredDocument]:
        with self._db.read() as conn:
            rows = conn.execute(DOCUMENT_SELECT + where,
                                (check_owner(owner), *params)).fetchall()
        return [StoredDocument(*row) for row in rows]

    def _read_passages(self, where: str, owner: str, *params: Any) -> list[StoredPassage]:
        with self._db.read() as conn:
            rows = conn.execute(PASSAGE_SELECT + where,
                                (check_owner(owner), *params)).fetchall()
        return [StoredPassage(id, document_id, name, ordinal, page, heading, text,
                              bytes(vector) if vector is not None else None)
                for id, document_id, name, ordinal, page, heading, text, vector in rows]
