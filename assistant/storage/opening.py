"""Opens the store the settings name: PostgreSQL for a postgresql:// URL, else the SQLite file."""

from __future__ import annotations

from pathlib import Path

from .repository import Store


def open_store(database_url: str | None, data_dir: Path, replica: str) -> Store:
    if database_url:
        if not database_url.lower().startswith(("postgresql://", "postgres://")):
            raise ValueError("ASSISTANT_DATABASE_URL must be a postgresql:// URL")
        from .postgres.store import PostgresStore  # psycopg only when it is used
        return PostgresStore(database_url, replica)
    from .sqlite.store import SQLiteStore
    return SQLiteStore.in_directory(data_dir, replica)
