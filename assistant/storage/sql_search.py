"""Search in every message of an owner's chats, ranked, with the matching snippet.

SQLite answers from an FTS5 index, PostgreSQL from a tsvector column with a GIN index
(each dialect's `search`). Each word of the query must match, the last one as a prefix,
so that results come as the words are typed.

Ranking every match of a word found in most messages takes longer than a keystroke
allows, so hits are ranked among the newest NEWEST_MATCHES messages that match.
"""

from __future__ import annotations

from .records import SearchHit, check_owner, search_terms
from .snippets import snippet
from .sql_dialect import Dialect

NEWEST_MATCHES = 1000


class MessageSearch:
    """Mixed into SQLStore."""

    _sql: Dialect

    def search_messages(self, owner: str, query: str, limit: int = 20) -> list[SearchHit]:
        """The owner's messages that hold every word of `query`, best first."""
        terms = search_terms(query)
        if not terms:
            return []
        with self._sql.db.read() as conn:
            rows = self._sql.search(conn, check_owner(owner), terms, NEWEST_MATCHES,
                                    max(1, min(int(limit), 100)))
        return [SearchHit(cid, title, message_id, role, snippet(content, terms), updated)
                for cid, title, message_id, role, content, updated in rows]
