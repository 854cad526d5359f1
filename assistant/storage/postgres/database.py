"""PostgreSQL plumbing for the PostgreSQL store: a connection pool, ordered writes, migrations.

The same contract as ../sqlite/database.py, so the stores read alike: `write` runs
`fn(conn, *args)` in one transaction and waits; `submit` queues a call behind every
earlier one (one writer thread, so deferred writes land in order); `read` lends a
pooled connection inside one transaction. Several app processes may share a database:
migrations take an advisory lock, and each step is recorded in `schema_migrations`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from ..records import StoreClosed

log = logging.getLogger(__name__)
T = TypeVar("T")
Migrations = Sequence[Sequence[str]]

POOL_SIZE = 8  # connections per process: readers, plus the one writer
MIGRATION_LOCK = 7_246_813  # any constant: the advisory lock key every replica migrates under


def migrate(conn: psycopg.Connection[Any], migrations: Migrations) -> int:
    """Brings the database to `len(migrations)`, one step per transaction; returns that version."""
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER"
                         " PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())")
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
            version = int(row[0]) if row else 0
            if version > len(migrations):
                raise RuntimeError(f"the database has schema version {version}; this app "
                                   f"knows up to {len(migrations)}. Upgrade the app.")
            if version == len(migrations):
                return version
            for statement in migrations[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version + 1,))
        log.info("migrated the database to schema version %d", version + 1)


class Database:
    """`close()` it at shutdown: it finishes the queued writes, then closes the pool."""

    def __init__(self, url: str, migrations: Migrations, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        # All opened at start: a burst of new visitors never waits for connections.
        self._pool = ConnectionPool(url, min_size=pool_size, max_size=pool_size, open=False,
                                    kwargs={"autocommit": False}, name="assistant")
        self._pool.open(wait=True, timeout=30)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database-writer")
        self._writer_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._vacuum_due: set[str] = set()
        try:
            with self._pool.connection() as conn:
                self.version = migrate(conn, migrations)
        except BaseException:
            self._pool.close()
            raise

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Runs `fn(*args)` on the writer thread, after everything submitted before it."""
        with self._lock:
            if self._closed:
                raise StoreClosed("the database is closed")
            return self._writer.submit(self._on_writer, fn, *args)

    def _on_writer(self, fn: Callable[..., T], *args: Any) -> T:
        self._writer_thread = threading.current_thread()
        return fn(*args)

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` in one transaction, in order with every other write; its result."""
        if threading.current_thread() is self._writer_thread:
            return self._transaction(fn, *args)
        result: T = self.submit(self._transaction, fn, *args).result()
        return result

    def write_later(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """`write`, without waiting: queued behind every earlier write."""
        return self.submit(self._transaction, fn, *args)

    def vacuum_after_commit(self, *tables: str) -> None:
        """From inside a write: VACUUM these tables once it commits, so deleted rows go from disk."""
        self._vacuum_due.update(tables)

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise StoreClosed("the database is closed")
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            yield conn

    def write_at_once(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreClosed("the database is closed")
        with self._pool.connection() as conn, conn.transaction():
            return fn(conn, *args)

    def notify(self, channel: str, payload: str) -> None:
        """Sends a notification at once, outside the ordered writes."""
        if self._closed:
            raise StoreClosed("the database is closed")
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))

    def flush(self, timeout: float | None = None) -> None:
        if threading.current_thread() is self._writer_thread:
            return
        try:
            self.submit(lambda: None).result(timeout)
        except StoreClosed:
            pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._writer.shutdown(wait=True)
        self._pool.close()

    def _transaction(self, fn: Callable[..., T], *args: Any) -> T:
        with self._pool.connection() as conn:
            with conn.transaction():
                result = fn(conn, *args)
            if self._vacuum_due:
                tables, self._vacuum_due = sorted(self._vacuum_due), set()
                conn.autocommit = True
                try:
                    for table in tables:
                        conn.execute(f"VACUUM {table}")
                finally:
                    conn.autocommit = False
        return result
