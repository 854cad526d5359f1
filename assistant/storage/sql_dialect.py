"""What the SQL core (sql_store.py) asks of a database: its writer and readers, and the
few fragments of SQL that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from contextlib import AbstractContextManager, closing
from typing import Any, Callable, Protocol, Sequence, TypeVar

T = TypeVar("T")
Conn = Any  # a sqlite3 or a psycopg connection, inside a transaction


class Database(Protocol):
    """What the core asks of sqlite/database.py and postgres/database.py alike."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]: ...

    def write(self, fn: Callable[..., T], *args: Any) -> T: ...

    def write_at_once(self, fn: Callable[..., T], *args: Any) -> T:
        """`write`, not queued behind the other writes: for a heartbeat, which a busy
        queue must not delay until the other processes think this one dead."""
        ...

    def read(self) -> AbstractContextManager[Conn]: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...


class Dialect(ABC):
    """One database, and what its SQL says differently."""

    order: str  # a column that grows with every insert: the tie-break between equal times
    merge_settings: str  # the assignment that merges the JSON object in `?` into `settings`
    lock: str = ""  # ends a SELECT of the row that the rest of a write depends on

    def __init__(self, db: Database) -> None:
        self.db = db

    def sql(self, text: str) -> str:
        """`text` with this database's placeholders for its `?`s."""
        return text

    def execute(self, conn: Conn, sql: str, *params: Any) -> Any:
        return conn.execute(self.sql(sql), params)

    def execute_many(self, conn: Conn, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with closing(conn.cursor()) as cursor:
            cursor.executemany(self.sql(sql), rows)

    @abstractmethod
    def contains(self, column: str) -> str:
        """SQL, true where `column` case-folded contains the needle in its one `?`."""

    def needle(self, folded: str) -> Any:
        """The parameter of `contains` for a search text already case-folded."""
        return folded

    @abstractmethod
    def search(self, conn: Conn, owner: str, terms: Sequence[str], among: int,
               limit: int) -> list[Any]:
        """Rows (conversation id, title, message id, role, content, updated) of the owner's
        messages holding every term, the last as a prefix: the best `limit` of the newest
        `among` such messages, best first (see sql_search.py)."""

    def forget_deleted_text(self, conn: Conn) -> None:
        """From inside a write that deleted messages: their words leave the search index."""
        return None

    @abstractmethod
    def insert(self, conn: Conn, sql: str, *params: Any) -> int:
        """Runs an INSERT of one row; the new row's id."""

    @abstractmethod
    def scrub_after_commit(self, tables: Sequence[str]) -> None:
        """From inside a write: once it commits, the rows it deleted from `tables` leave the disk."""

    def message_changed(self, conn: Conn, message_id: int) -> None:
        """From inside a write: tells the other processes, once it commits (see
        postgres/signals.py). One process alone has nobody to tell."""
        return None
