"""The store's public surface: what the app asks of any database (SQLite or PostgreSQL).

Every method takes `owner` and touches only that owner's rows; someone else's id
behaves exactly like a missing one (None, False or NotFound), so ids cannot be probed.
Methods block until done: call them off the event loop, or hand them to `defer`.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence, TypeVar

from ..domain.tally import ReplyTally
from .records import (
    ApiKey,
    Conversation,
    ConversationSummary,
    FigureRows,
    Folder,
    Memory,
    Message,
    Role,
    SearchHit,
    Share,
    Status,
    StoredDocument,
    StoredImage,
    StoredPassage,
)

T = TypeVar("T")
PassageRow = tuple[int, int | None, str, str, bytes | None]  # ordinal, page, heading, text, vector


class DocumentStore(Protocol):
    def add_document(self, owner: str, document_id: str, name: str, kind: str, size: int,
                     pages: int, path: str, passages: Sequence[PassageRow]) -> None: ...

    def list_documents(self, owner: str) -> list[StoredDocument]: ...

    def get_document(self, owner: str, document_id: str) -> StoredDocument | None: ...

    def remove_document(self, owner: str, document_id: str) -> StoredDocument | None: ...

    def passages(self, owner: str) -> list[StoredPassage]: ...

    def passage(self, owner: str, passage_id: int) -> StoredPassage | None: ...

    def neighbours(self, owner: str, document_id: str, ordinal: int,
                   span: int) -> list[StoredPassage]: ...


class Store(Protocol):
    @property
    def documents(self) -> DocumentStore: ...

    def defer(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Runs `fn(*args)`, usually a write of this store, off the caller's thread, after
        everything deferred before it; returns at once. Raises DatabaseClosed."""
        ...

    def flush(self, timeout: float | None = None) -> None:
        """Waits until everything deferred so far has run."""
        ...

    def close(self) -> None: ...

    def create_conversation(self, owner: str, title: str | None = None,
                            settings: Mapping[str, Any] | None = None, *,
                            conversation_id: str | None = None) -> str: ...

    def list_conversations(self, owner: str, query: str | None = None,
                           limit: int = 100) -> list[ConversationSummary]: ...

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None: ...

    def search_messages(self, owner: str, query: str, limit: int = 20) -> list[SearchHit]:
        """The owner's messages holding every word of `query`, best first."""
        ...

    def set_pinned(self, owner: str, conversation_id: str, pinned: bool) -> bool: ...

    def create_folder(self, owner: str, name: str) -> str:
        """The id of the owner's folder called `name`, made if there is none yet."""
        ...

    def list_folders(self, owner: str) -> list[Folder]: ...

    def rename_folder(self, owner: str, folder_id: str, name: str) -> bool: ...

    def delete_folder(self, owner: str, folder_id: str) -> bool:
        """Its chats stay, outside any folder."""
        ...

    def move_conversation(self, owner: str, conversation_id: str,
                          folder_id: str | None) -> bool: ...

    def get_message(self, owner: str, message_id: int) -> Message | None: ...

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool: ...

    def update_settings(self, owner: str, conversation_id: str,
                        settings: Mapping[str, Any]) -> bool: ...

    def delete_conversation(self, owner: str, conversation_id: str) -> bool: ...

    def delete_owner(self, owner: str) -> int: ...

    def delete_untouched(self, before: float) -> int: ...

    def all_conversations(self, owner: str) -> list[Conversation]: ...

    def add_message(self, owner: str, conversation_id: str, role: Role, content: str,
                    status: Status = "complete", reason: str | None = None,
                    settings: Mapping[str, Any] | None = None,
                    images: Sequence[StoredImage] = (),
                    parent_id: int | Literal["active"] | None = "active") -> int:
        """Adds a message after `parent_id` (None: a first message; "active": after the
        message the chat shows last) and makes it the one the chat shows last."""
        ...

    def branch_conversation(self, owner: str, conversation_id: str,
                            up_to: int | None = None) -> str:
        """A new conversation holding the path to message `up_to` (default: the path the
        chat shows); NotFound if the conversation or the message is not the owner's."""
        ...

    def set_active(self, owner: str, conversation_id: str, message_id: int | None) -> bool:
        """The chat shows the path that ends at `message_id` (None: no message)."""
        ...

    def update_message(self, owner: str, message_id: int, content: str, status: Status,
                       reason: str | None = None,
                       steps: Sequence[Mapping[str, Any]] = (),
                       sources: Sequence[Mapping[str, Any]] = (),
                       figures: Mapping[str, Any] | None = None) -> bool: ...

    def beat(self, replica: str, now: float) -> None:
        """Records that process `replica` is alive at `now`."""
        ...

    def mark_interrupted(self, reason: str, alive_since: float | None = None) -> int:
        """Replies left streaming by processes with no heartbeat since `alive_since` (None:
        every reply left streaming) become failed with `reason`; returns how many."""
        ...

    def export_json(self, owner: str, conversation_id: str) -> dict[str, Any]: ...

    def export_markdown(self, owner: str, conversation_id: str) -> str: ...

    def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> str: ...

    def create_share(self, owner: str, conversation_id: str, snapshot: Mapping[str, Any],
                     audience: str = "anyone", expires: float | None = None) -> str:
        """A new link to a snapshot (storage/snapshots.py) of the owner's chat: its token."""
        ...

    def list_shares(self, owner: str) -> list[Share]: ...

    def revoke_share(self, owner: str, token: str) -> bool: ...

    def open_share(self, token: str, now: float | None = None) -> Share | None:
        """For anyone with the token: None once revoked, expired or its chat deleted."""
        ...

    def add_memory(self, owner: str, text: str) -> int: ...

    def list_memories(self, owner: str) -> list[Memory]: ...

    def delete_memory(self, owner: str, memory_id: int) -> bool: ...

    def add_api_key(self, owner: str, key_id: str, name: str, digest: str) -> None:
        """Keeps a key as its digest (identity/api_keys.py makes the key and its digest)."""
        ...

    def list_api_keys(self, owner: str) -> list[ApiKey]:
        """Newest first."""
        ...

    def revoke_api_key(self, owner: str, key_id: str) -> bool: ...

    def api_key_owner(self, digest: str) -> str | None: ...

    def count_reply(self, tally: ReplyTally) -> None:
        """Adds a finished reply (or a message a limit turned away) to its day's figures."""
        ...

    def figures(self, first: int, last: int, today: int, top: int = 10) -> FigureRows:
        """The figures of days `first` to `last` (see domain/tally.py), for the dashboard."""
        ...

    def set_consent(self, owner: str, consents: bool, now: float) -> None:
        """Whether the operator may see the owner's questions; no unlists them at once."""
        ...

    def consents(self, owner: str) -> bool: ...

    def shared_questions(self, since: float, limit: int) -> list[str]:
        """The newest questions since `since` of the owners who consent."""
        ...
