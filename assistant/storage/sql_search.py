"""Search in every message of an owner's chats, ranked, with the matching snippet.

SQLite answers from an FTS5 index, PostgreSQL from a tsvector column with a GIN index
(each dialect's `search`). Each word of the query must match, the last one as a prefix,
so that results come as the words are typed.
"""

from __future__ import annotations

from .records import SearchHit, check_owner, search_terms
from .sql_dialect import Dialect


class MessageSearch:
    """Mixed into SQLStore."""

    _sql: Dialect

    def search_messages(self, owner: str, query: str, limit: int = 20) -> list[SearchHit]:
        """The owner's messages that hold every word of `query`, best first."""
        terms = search_terms(query)
        if not terms:
            return []
        with self._sql.db.read() as conn:
            rows = self._sql.search(conn, check_owner(owner), terms, max(1, min(int(limit), 100)))
        return [SearchHit(*row) for row in rows]
