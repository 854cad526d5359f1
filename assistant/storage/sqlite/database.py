"""SQLite plumbing for the SQLite store: one writer thread, pooled readers, migrations, checkpoints.

Writes run on one thread with one connection, fed by a queue: writers never contend,
so "database is locked" cannot happen between them, and the asyncio event loop never
waits on the disk (it enqueues). Reads use connections of their own, beside the
writer (WAL), from whichever thread asks. Knows nothing of conversations.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from ..records import StoreClosed

log = logging.getLogger(__name__)
T = TypeVar("T")
_Job = tuple[Callable[..., Any], tuple[Any, ...], "Future[Any]"]
Migrations = Sequence[Sequence[str]]

BUSY_TIMEOUT = 10.0  # seconds: for another process, or for readers before a checkpoint
IDLE_READERS = 8  # read connections kept open between reads
CHECKPOINT_RETRY = 1.0  # seconds before retrying a checkpoint that readers held up


DatabaseClosed = StoreClosed


def migrate(conn: sqlite3.Connection, migrations: Migrations) -> int:
    """Brings the file to `len(migrations)`, one step per transaction; returns that version.

    Step n takes a file from PRAGMA user_version n-1 to n.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")  # another process may be migrating the same file
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(migrations):
                raise RuntimeError(f"the database has schema version {version}; this app "
                                   f"knows up to {len(migrations)}. Upgrade the app.")
            if version == len(migrations):
                conn.execute("COMMIT")
                return int(version)
            for statement in migrations[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
            log.info("migrated the database to schema version %d", version + 1)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class Database:
    """One SQLite file in WAL mode; `close()` it at shutdown (it finishes queued writes)."""

    def __init__(self, path: str | os.PathLike[str], migrations: Migrations,
                 functions: dict[str, Callable[[Any], Any]] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.functions = dict(functions or {})  # SQL functions of one argument, for reads
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._lock = threading.Lock()  # orders submit() against close()
        self._closed = False
        self._checkpoint_due = False
        self._conn = self._connect()
        try:
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{self.path}: cannot use WAL mode (got {mode})")
            self._conn.execute("PRAGMA secure_delete = ON")  # deleted rows are zeroed on disk
            self._conn.execute("PRAGMA journal_size_limit = 67108864")  # a big WAL shrinks back
            self.version = migrate(self._conn, migrations)
        except BaseException:
            self._conn.close()
            raise
        self._thread = threading.Thread(target=self._run, name="database-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Runs `fn(*args)` on the writer thread, after everything submitted before it."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise DatabaseClosed("the database is closed")
            self._jobs.put((fn, args, future))
        return future

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` in one transaction on the writer thread; waits for its result."""
        if threading.current_thread() is self._thread:
            return self._transaction(fn, *args)
        future: Future[T] = self.submit(self._transaction, fn, *args)
        return future.result()

    def write_at_once(self, fn: Callable[..., T], *args: Any) -> T:
        return self.write(fn, *args)  # one process: nobody else reads its heartbeat

    def checkpoint_after_commit(self) -> None:
        """From inside a write: empty the WAL once it commits, so deleted text leaves it too."""
        self._checkpoint_due = True

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection inside one transaction, so a read sees one snapshot."""
        if self._closed:
            raise DatabaseClosed("the database is closed")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect(reader=True)
        try:
            conn.execute("BEGIN")
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
            if self._closed or self._idle.qsize() >= IDLE_READERS:
                conn.close()
            else:
                self._idle.put(conn)

    def flush(self, timeout: float | None = None) -> None:
        """Waits until everything submitted so far has run."""
        if threading.current_thread() is self._thread:
            return
        try:
            self.submit(lambda: None).result(timeout)
        except DatabaseClosed:
            pass  # close() already waited for every write

    def close(self) -> None:
        """Runs the writes already queued, then closes every connection. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()
        while not self._idle.empty():
            self._idle.get_nowait().close()

    def _run(self) -> None:
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=CHECKPOINT_RETRY if self._checkpoint_due else None)
                except queue.Empty:
                    self._checkpoint()
                    continue
                if job is None:
                    return
                fn, args, future = job
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args))
                    except BaseException as exc:
                        future.set_exception(exc)
        finally:
            if self._checkpoint_due:
                self._checkpoint()
            self._conn.close()

    def _transaction(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if self._checkpoint_due:
            self._checkpoint()
        return result

    def _checkpoint(self) -> None:
        busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        self._checkpoint_due = bool(busy)
        if busy:
            log.info("WAL checkpoint held up by readers; retrying in %.0f s", CHECKPOINT_RETRY)

    def _connect(self, *, reader: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: commits survive a process crash
        conn.execute("PRAGMA foreign_keys = ON")
        if reader:
            conn.execute("PRAGMA query_only = ON")
            for name, fn in self.functions.items():
                conn.create_function(name, 1, fn, deterministic=True)
        return conn
