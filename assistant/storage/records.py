"""What the store keeps, as plain values, and the rules every store applies to them."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal, Mapping, TypeGuard, get_args

from ..domain.events import Approval

Role = Literal["user", "assistant"]
Status = Literal["complete", "refused", "streaming", "stopped", "failed", "truncated"]
ROLES: tuple[Role, ...] = get_args(Role)
STATUSES: tuple[Status, ...] = get_args(Status)
SETTINGS_KEYS = ("model", "temperature", "system_prompt", "history_turns", "max_tokens", "api",
                 "allowed_tools")  # the tools "always allowed in this chat" (approvals.py)
STEP_KINDS = ("reasoning", "tool", "route")
TITLE_CHARS = 60
_SURROGATE = re.compile("[\ud800-\udfff]")


class StoreClosed(RuntimeError):
    """The store has been closed (the app is shutting down)."""


class NotFound(LookupError):
    """No such conversation or message for this owner (whether missing or someone else's)."""


@dataclass(frozen=True)
class Message:
    id: int
    position: int
    role: Role
    content: str
    status: Status
    reason: str | None  # why a reply is incomplete, in the user's words
    settings: dict[str, Any] | None  # what produced an assistant reply
    created: float  # seconds since the epoch
    updated: float
    steps: tuple[dict[str, Any], ...] = ()  # reasoning and tool calls, in order (domain Step)
    sources: tuple[dict[str, Any], ...] = ()  # the passages a reply cites (domain Source)
    images: tuple[StoredImage, ...] = ()  # attached to a user message
    parent_id: int | None = None  # the message it answers or follows; None: the first
    replica: str | None = None  # the process writing a reply still streaming
    figures: dict[str, Any] | None = None  # a reply's stats, once it ended (ReplyFigures)


@dataclass(frozen=True)
class StoredImage:
    media_type: str
    data: bytes
    name: str = ""


@dataclass(frozen=True)
class StoredDocument:
    id: str
    name: str  # as uploaded, cleaned
    kind: str  # pdf | markdown | text | html
    size: int  # bytes
    pages: int
    passages: int
    created: float
    path: str  # the stored file, relative to the documents directory


@dataclass(frozen=True)
class StoredPassage:
    id: int
    document_id: str
    document_name: str
    ordinal: int  # its place in the document
    page: int | None
    heading: str
    text: str
    vector: bytes | None = None  # float32, when the server made embeddings


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str  # "" until the first user message names it
    created: float
    updated: float
    branches: int = 1  # the paths through its tree: more than one once it has versions
    pinned: bool = False
    folder_id: str | None = None


@dataclass(frozen=True)
class Folder:
    id: str
    name: str
    created: float


@dataclass(frozen=True)
class Share:
    """A read-only link to a snapshot of a chat (storage/sql_shares.py)."""
    token: str
    conversation_id: str
    title: str
    audience: str  # "anyone" with the link, or "signed_in" users only
    created: float
    expires: float | None = None
    snapshot: dict[str, Any] | None = None  # only when opened
    owner: str = ""  # only when opened: whose documents its sources cite


# Around the matched words of a search hit's snippet.
MATCH_START, MATCH_END = "\x02", "\x03"


@dataclass(frozen=True)
class SearchHit:
    """A message that matches a search, best first."""
    conversation_id: str
    title: str
    message_id: int
    role: str
    snippet: str  # the matching part of the message, its matches between MATCH_START and MATCH_END
    updated: float


def search_terms(query: str, limit: int = 8) -> list[str]:
    """The words of a search, in lower case; punctuation and operators are not searched."""
    return re.findall(r"\w+", clean_text(query).lower())[:limit]


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created: float
    updated: float
    settings: dict[str, Any]
    messages: tuple[Message, ...]  # every message of every branch, oldest first
    active_id: int | None = None  # the last message of the path the chat shows

    def path(self, leaf: int | None = None) -> tuple[Message, ...]:
        """The messages from the first to `leaf` (default: the active one), in order."""
        return active_path(self.messages, self.active_id if leaf is None else leaf)

    def siblings(self, message: Message) -> tuple[Message, ...]:
        """The versions of a message: every message with its parent, oldest first."""
        return tuple(m for m in self.messages if m.parent_id == message.parent_id)

    def newest_leaf(self, message_id: int) -> int:
        """The end of the branch below a message, taking its newest version at each step."""
        children: dict[int | None, int] = {}
        for m in self.messages:  # oldest first, so the newest child wins
            children[m.parent_id] = m.id
        leaf, steps = message_id, 0
        while leaf in children and steps <= len(self.messages):
            leaf, steps = children[leaf], steps + 1
        return leaf

    def leaf_showing(self, query: str) -> int | None:
        """The newest branch's end that shows a message containing `query` (case-folded),
        if the active path shows none; None when it does, or when no message has it."""
        needle = query.strip().casefold()
        if not needle or any(needle in m.content.casefold() for m in self.path()):
            return None
        found = [m for m in self.messages if needle in m.content.casefold()]
        return self.newest_leaf(found[-1].id) if found else None

    def last_versions(self) -> tuple[Message, tuple[Message, ...]] | None:
        """The last message of the active path that has other versions, and its versions."""
        for message in reversed(self.path()):
            versions = self.siblings(message)
            if len(versions) > 1:
                return message, versions
        return None


@dataclass(frozen=True)
class Memory:
    id: int
    text: str
    created: float


@dataclass(frozen=True)
class ApiKey:
    """A key as its owner sees it listed; the key itself is shown once and never kept."""
    id: str
    name: str
    created: float


def active_path(messages: tuple[Message, ...], leaf: int | None) -> tuple[Message, ...]:
    """The path through the tree that ends at `leaf`; with no leaf, none."""
    by_id = {m.id: m for m in messages}
    node = by_id.get(leaf) if leaf is not None else None
    path: list[Message] = []
    while node is not None and len(path) <= len(messages):  # a cycle cannot loop forever
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return tuple(reversed(path))


def new_conversation_id() -> str:
    return secrets.token_urlsafe(12)


def auto_title(text: str, limit: int = TITLE_CHARS) -> str:
    """The first non-blank line, cut at a word boundary to at most `limit` characters."""
    line = next((" ".join(part.split()) for part in text.splitlines() if part.strip()), "")
    if len(line) <= limit:
        return line
    space = line.rfind(" ", 0, limit)  # the text before it fits, with room for the ellipsis
    head = line[:space] if space >= limit // 2 else line[:limit - 1]
    return head.rstrip(" ,.;:-") + "…"


def clean_text(value: str) -> str:
    """Text any database takes: lone surrogates (possible in JSON) and NUL become U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")  # PostgreSQL's text cannot hold NUL
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)


def clean_title(title: str) -> str:
    return clean_text(" ".join(str(title).split()))[:200]


def settings_json(settings: Mapping[str, Any] | None) -> str:
    settings = dict(settings or {})
    unknown = set(settings) - set(SETTINGS_KEYS)
    if unknown:
        raise ValueError(f"unknown conversation settings: {', '.join(sorted(unknown))}")
    return json.dumps(settings)


APPROVALS: tuple[str, ...] = get_args(Approval)


def steps_json(steps: Any) -> str | None:
    """Checked steps as JSON, or None for none; a ValueError says what is wrong."""
    if not steps:
        return None
    if not isinstance(steps, (list, tuple)):
        raise ValueError("steps must be a list")
    checked = []
    for step in steps:
        if not isinstance(step, Mapping) or step.get("type") not in STEP_KINDS:
            raise ValueError(f"each step must be an object whose type is one of {STEP_KINDS}")
        text, seconds, at = step.get("text", ""), step.get("seconds"), step.get("at", 0)
        if not isinstance(text, str) or not (seconds is None or type(seconds) in (int, float)) \
                or type(at) is not int:
            raise ValueError("a step has a text string, seconds as a number and `at` a whole number")
        record = {"type": step["type"], "text": clean_text(text), "seconds": seconds, "at": at}
        if step["type"] == "route" and isinstance(step.get("name", ""), str):
            record["name"] = clean_text(step.get("name", ""))
        if step["type"] == "tool":
            fields = {k: step.get(k, "") for k in ("name", "call_id", "arguments")}
            if not all(isinstance(v, str) for v in fields.values()) or \
                    not isinstance(step.get("failed", False), bool):
                raise ValueError("a tool step has a name, call_id and arguments as strings")
            record.update({k: clean_text(v) for k, v in fields.items()},
                          failed=step.get("failed", False))
            if type(step.get("round", 0)) is int:
                record["round"] = step.get("round", 0)
            if step.get("approval") in APPROVALS and isinstance(step.get("server", ""), str):
                record.update(approval=step["approval"], server=clean_text(step.get("server", "")))
        checked.append(record)
    return json.dumps(checked)


SOURCE_FIELDS: dict[str, Any] = {"number": int, "passage_id": int, "document_id": str, "name": str,
                 "page": (int, type(None)), "heading": str, "text": str}


def sources_json(sources: Any) -> str | None:
    """Checked sources (what a reply cites) as JSON, or None for none."""
    if not sources:
        return None
    if not isinstance(sources, (list, tuple)):
        raise ValueError("sources must be a list")
    checked = []
    for source in sources:
        if not isinstance(source, Mapping) or not all(
                isinstance(source.get(k), kind) and type(source.get(k)) is not bool
                for k, kind in SOURCE_FIELDS.items()):
            raise ValueError("each source has a number, passage_id, document_id, name, page, "
                             "heading and text")
        checked.append({k: clean_text(v) if isinstance(v, str) else v
                        for k, v in source.items() if k in SOURCE_FIELDS})
    return json.dumps(checked)


def is_status(value: object) -> TypeGuard[Status]:
    return value in STATUSES


def check_status(status: str) -> Status:
    if not is_status(status):
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return status


def check_owner(owner: Any) -> str:
    if not isinstance(owner, str) or not owner:
        raise ValueError("owner must be a non-empty string")
    return owner


@dataclass(frozen=True)
class FigureRows:
    """What the figure tables hold for the days `first` to `last`, both included."""
    replies: list[tuple[int, str, str, str, int, int, int]]  # day, backend, model, outcome,
    # replies, prompt tokens, completion tokens
    ttft: list[tuple[int, int, int]]  # day, bucket, replies
    users: list[tuple[int, int]]  # day, active users
    heaviest: list[tuple[str, int, int, int, int]]  # owner, replies, tokens, limit hits,
    # tokens today
    tools: list[tuple[str, int, int, float, float]]  # tool, calls, failures, seconds, slowest
    documents: list[tuple[str, int, int]]  # kind, documents, bytes: all stored now
    documents_added: list[tuple[int, int, int]]  # day, documents, bytes
