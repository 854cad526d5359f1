"""Everything one owner has, on request: as one archive, or deleted for good.

The archive (a zip) holds each conversation as JSON (the import format) and Markdown,
the saved memories, and each document's original file with a list of them.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path
from typing import Protocol, Sequence

from .export import to_json, to_markdown
from .records import StoredDocument
from .repository import Store

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OwnerFiles(Protocol):
    """The stored files of an owner's documents (documents/library.py)."""

    def files(self, owner: str) -> Sequence[tuple[StoredDocument, Path]]: ...

    def remove_all(self, owner: str) -> int: ...


def _slug(text: str, fallback: str) -> str:
    return _UNSAFE.sub("-", text).strip("-")[:40] or fallback


def write_archive(store: Store, files: OwnerFiles, owner: str, path: Path) -> Path:
    """Writes the owner's archive to `path`; reads the database, so call it from a thread."""
    now = time.time()
    conversations = store.all_conversations(owner)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, conversation in enumerate(conversations, 1):
            stem = f"conversations/{number:04d}-{_slug(conversation.title, 'chat')}"
            archive.writestr(f"{stem}.json", json.dumps(to_json(conversation, now),
                                                        ensure_ascii=False, indent=2))
            archive.writestr(f"{stem}.md", to_markdown(conversation))
        memories = [{"text": m.text, "created": m.created} for m in store.list_memories(owner)]
        archive.writestr("memories.json", json.dumps(memories, ensure_ascii=False, indent=2))
        listed = []
        for document, file in files.files(owner):
            name = f"documents/{document.id}-{document.name}"
            if file.is_file():
                archive.write(file, name)
            listed.append({"file": name, "name": document.name, "kind": document.kind,
                           "pages": document.pages, "size": document.size,
                           "created": document.created})
        archive.writestr("documents.json", json.dumps(listed, ensure_ascii=False, indent=2))
    return path


def delete_everything(store: Store, files: OwnerFiles, owner: str) -> int:
    """Removes the owner's conversations, memories, documents and their files, and API keys;
    rows + files gone."""
    removed_files = files.remove_all(owner)
    return store.delete_owner(owner) + removed_files
