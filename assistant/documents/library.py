"""Each owner's documents: add (read, split, index, store), list, search, open, remove.

Files are kept under the data directory, one folder per owner, with sanitised names;
passages and their vectors live in the database, and a BM25 index per owner is
built from them on first search (and rebuilt after a change), so it survives restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..storage.records import StoredDocument, StoredPassage
from ..storage.repository import DocumentStore
from .embeddings import Embeddings
from .passages import split_passages
from .ranking import Bm25Ranking, fuse, vector_ranking
from .reading import UnreadableFile, read_document

CACHED_OWNERS = 32
MAX_KNOWN_OWNERS = 100_000
CANDIDATES = 20  # per ranking, before fusion
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class DocumentRefused(ValueError):
    """A file that cannot be added, in words for the user."""


class AlreadyAdded(DocumentRefused):
    """The same bytes are already one of the owner's documents."""

    def __init__(self, document: StoredDocument) -> None:
        super().__init__(f"“{document.name}” is already in your documents.")
        self.document = document


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20_000_000
    max_pages: int = 500
    max_documents: int = 50


@dataclass
class _Index:
    passages: list[StoredPassage]
    bm25: Bm25Ranking
    vectors: np.ndarray | None  # one row per passage, when every passage has one


def safe_name(name: str) -> str:
    """A file name with no path in it and only plain characters, never empty."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:100]
    return cleaned or "document"


class Library:
    def __init__(self, store: DocumentStore, files_dir: Path, limits: Limits = Limits(),
                 embeddings: Embeddings | None = None) -> None:
        self.store = store
        self.files_dir = Path(files_dir)
        self.limits = limits
        self.embeddings = embeddings
        self._indexes: OrderedDict[str, _Index] = OrderedDict()
        self._lock = threading.Lock()
        self._changes: dict[str, int] = {}  # per owner: an index built before a change is stale
        self._has: OrderedDict[str, bool] = OrderedDict()  # whether an owner has documents

    # Adding and removing

    async def add(self, owner: str, name: str, data: bytes) -> StoredDocument:
        """Reads, splits and stores one file; DocumentRefused says why it cannot be added."""
        name = safe_name(name)
        if not data:
            raise DocumentRefused(f"“{name}” is empty.")
        if len(data) > self.limits.max_bytes:
            raise DocumentRefused(f"“{name}” is {len(data) / 1e6:.1f} MB; the limit is "
                                  f"{self.limits.max_bytes / 1e6:g} MB.")
        existing = await asyncio.to_thread(self.store.list_documents, owner)
        same = await asyncio.to_thread(self._same_file, existing, data)
        if same is not None:
            raise AlreadyAdded(same)
        count = len(existing)
        if count >= self.limits.max_documents:
            raise DocumentRefused(f"You have {count} documents, the most allowed. "
                                  "Remove one to add another.")
        try:
            document = await asyncio.to_thread(read_document, data, name,
                                               max_pages=self.limits.max_pages)
        except UnreadableFile as exc:
            raise DocumentRefused(str(exc)) from None
        passages = split_passages(document)
        if not passages:
            raise DocumentRefused(f"“{name}” has no text to read.")
        vectors = await self.embeddings.embed([p.text for p in passages]) \
            if self.embeddings is not None else None
        document_id = secrets.token_urlsafe(9)
        path = self._file(owner, document_id, name)
        rows = [(p.ordinal, p.page, p.heading, p.text,
                 np.asarray(vectors[i], dtype=np.float32).tobytes() if vectors else None)
                for i, p in enumerate(passages)]

        def save() -> None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.write_bytes(data)
            try:
                self.store.add_document(owner, document_id, name, document.kind, len(data),
                                        document.pages, path.relative_to(self.files_dir).as_posix(),
                                        rows)
            except BaseException:
                path.unlink(missing_ok=True)
                raise

        await asyncio.to_thread(save)
        self._forget(owner)
        stored = await asyncio.to_thread(self.store.get_document, owner, document_id)
        assert stored is not None
        return stored

    def _same_file(self, documents: list[StoredDocument], data: bytes) -> StoredDocument | None:
        for document in documents:
            if document.size == len(data):
                try:
                    if (self.files_dir / document.path).read_bytes() == data:
                        return document
                except OSError:
                    continue
        return None

    def remove(self, owner: str, document_id: str) -> bool:
        """Removes the document, its passages, vectors and file; False if not the owner's."""
        removed = self.store.remove_document(owner, str(document_id))
        if removed is None:
            return False
        self._forget(owner)
        file = (self.files_dir / removed.path).resolve()
        if file.is_relative_to(self.files_dir.resolve()):
            file.unlink(missing_ok=True)
        return True

    def files(self, owner: str) -> list[tuple[StoredDocument, Path]]:
        """Each document with its stored file."""
        return [(d, self.files_dir / d.path) for d in self.store.list_documents(owner)]

    def file(self, owner: str, document_id: str) -> tuple[str, Path] | None:
        """The name and stored file of one of the owner's documents, while it is there."""
        return next(((d.name, f) for d, f in self.files(owner) if d.id == document_id
                     and f.resolve().is_relative_to(self.files_dir.resolve()) and f.is_file()),
                    None)

    def remove_all(self, owner: str) -> int:
        """Removes every document of `owner` with its file; how many files went."""
        removed = 0
        for document, file in self.files(owner):
            self.store.remove_document(owner, document.id)
            if file.resolve().is_relative_to(self.files_dir.resolve()) and file.is_file():
                file.unlink()
                removed += 1
        self._forget(owner)
        return removed

    def documents(self, owner: str) -> list[StoredDocument]:
        return self.store.list_documents(owner)

    async def has_documents(self, owner: str) -> bool:
        """Asked every turn: answered from memory after the first time, until a change."""
        known = self._has.get(owner)
        if known is None:
            changes = self._changes.get(owner, 0)
            known = bool(await asyncio.to_thread(self.store.list_documents, owner))
            with self._lock:
                if self._changes.get(owner, 0) == changes:
                    self._has[owner] = known
                    while len(self._has) > MAX_KNOWN_OWNERS:
                        self._has.popitem(last=False)
        return known

    # Searching and reading

    async def search(self, owner: str, query: str, k: int = 5) -> list[StoredPassage]:
        """The best `k` passages of the owner's documents: BM25, fused with vectors if any."""
        index = await asyncio.to_thread(self._index, owner)
        if index is None or not query.strip():
            return []
        rankings = [[i for i, _ in index.bm25.search(query, CANDIDATES)]]
        if index.vectors is not None and self.embeddings is not None:
            embedded = await self.embeddings.embed([query])
            if embedded:
                rankings.append(vector_ranking(embedded[0], index.vectors, CANDIDATES))
        best = fuse(rankings, limit=k) if len(rankings) > 1 else rankings[0][:k]
        return [index.passages[i] for i in best]

    def passage(self, owner: str, passage_id: int,
                span: int = 1) -> tuple[StoredPassage, list[StoredPassage]] | None:
        """A passage and its neighbours in the document (it included), if it is the owner's."""
        found = self.store.passage(owner, passage_id)
        if found is None:
            return None
        return found, self.store.neighbours(owner, found.document_id, found.ordinal, span)

    # Inside

    def _file(self, owner: str, document_id: str, name: str) -> Path:
        folder = hashlib.sha256(owner.encode()).hexdigest()[:24]
        path = (self.files_dir / folder / f"{document_id}-{name}").resolve()
        if not path.is_relative_to(self.files_dir.resolve()):  # safe_name prevents it; be sure
            raise DocumentRefused("That file name cannot be used.")
        return path

    def _forget(self, owner: str) -> None:
        with self._lock:
            self._indexes.pop(owner, None)
            self._has.pop(owner, None)
            self._changes[owner] = self._changes.get(owner, 0) + 1

    def _index(self, owner: str) -> _Index | None:
        with self._lock:
            index = self._indexes.get(owner)
            if index is not None:
                self._indexes.move_to_end(owner)
                return index
            changes = self._changes.get(owner, 0)
        passages = self.store.passages(owner)
        if not passages:
            return None
        vectors = None
        if all(p.vector for p in passages) and len({len(p.vector or b"") for p in passages}) == 1:
            vectors = np.vstack([np.frombuffer(p.vector or b"", dtype=np.float32)
                                 for p in passages])
        index = _Index(passages, Bm25Ranking([f"{p.heading}\n{p.text}" for p in passages]),
                       vectors)
        with self._lock:
            if self._changes.get(owner, 0) != changes:
                return index
            self._indexes[owner] = index
            while len(self._indexes) > CACHED_OWNERS:
                self._indexes.popitem(last=False)
        return index
