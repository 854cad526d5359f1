"""The conversation export format: versioned JSON out and back in, and Markdown out.

Pure functions over plain data: `to_json` and `to_markdown` take a stored Conversation,
`parse_export` checks an export (a decoded JSON value) and returns the rows a store
inserts for a new conversation. Nothing here touches a database.

Imports are checked field by field, with a ValueError that says what is wrong; an export
of a newer EXPORT_VERSION is refused, and settings keys this app does not know are dropped.
Version 2 carries the tree: each message's `parent` is the index of the message it
follows (null: a first message), and `active` the index of the last message the chat
shows. A version 1 export is one path: each message follows the one before it.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any, Mapping

from .records import (
    ROLES,
    SETTINGS_KEYS,
    STATUSES,
    Conversation,
    StoredImage,
    clean_text,
    clean_title,
    sources_json,
    steps_json,
)

EXPORT_FORMAT = "streaming-assistant/conversation"
EXPORT_VERSION = 2
MAX_IMPORT_MESSAGES = 10_000
MAX_IMPORT_IMAGE_BYTES = 20_000_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def _seconds(value: Any, default: float) -> float:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError, OSError):
        return default


def to_json(c: Conversation, exported: float) -> dict[str, Any]:
    """The conversation in the versioned export format, stamped as exported at `exported`."""
    index = {m.id: i for i, m in enumerate(c.messages)}
    return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported": _iso(exported),
            "id": c.id, "title": c.title, "created": _iso(c.created),
            "updated": _iso(c.updated), "settings": c.settings,
            "active": index.get(c.active_id) if c.active_id is not None else None,
            "messages": [{"role": m.role, "content": m.content, "status": m.status,
                          "reason": m.reason, "settings": m.settings, "steps": list(m.steps),
                          "sources": list(m.sources), "images": [_image_json(i) for i in m.images],
                          "figures": m.figures,
                          "parent": index.get(m.parent_id) if m.parent_id is not None else None,
                          "created": _iso(m.created), "updated": _iso(m.updated)}
                         for m in c.messages]}


def _image_json(image: StoredImage) -> dict[str, str]:
    return {"media_type": image.media_type, "name": image.name,
            "data": base64.b64encode(image.data).decode()}


def source_line(source: Mapping[str, Any]) -> str:
    """A cited passage's place: "[1] report.pdf, page 3, Results"."""
    page = f", page {source['page']}" if source.get("page") else ""
    heading = f", {source['heading']}" if source.get("heading") else ""
    return f"[{source.get('number')}] {source.get('name', '')}{page}{heading}"


def to_markdown(c: Conversation) -> str:
    """The conversation for reading: title, settings, system prompt, then each message."""
    lines = [f"# {c.title or 'Untitled conversation'}", "", f"*Started {_iso(c.created)}*", ""]
    shown = [f"{k.replace('_', ' ')}: {c.settings[k]}" for k in SETTINGS_KEYS
             if k in c.settings and k != "system_prompt"]
    if shown:
        lines += ["*" + ", ".join(shown) + "*", ""]
    if c.settings.get("system_prompt"):
        prompt = str(c.settings["system_prompt"]).splitlines()
        lines += ["> **System prompt:** " + "\n> ".join(prompt), ""]
    for m in c.path():  # the chat as it is shown: the active branch
        lines += [f"## {m.role.capitalize()}", ""]
        for step in m.steps:
            seconds = step.get("seconds")
            took = f" ({seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
            if step.get("type") == "route":
                lines += [f"*↪ {step.get('name', '')} · {step.get('text', '')}*", ""]
                continue
            if step.get("type") == "tool":
                failed = " (failed)" if step.get("failed") else ""
                summary = f"🔧 {step.get('name', '')}{failed}{took}"
                body = ["Arguments: `" + str(step.get("arguments", "")) + "`", "",
                        "Result:", "", "```", step.get("text", ""), "```"]
            else:
                summary, body = f"💭 Thought{took}", [step.get("text", "")]
            lines += [f"<details><summary>{summary}</summary>", "", *body, "", "</details>", ""]
        lines += [m.content, ""]
        lines += [f"![{i.name or 'image'}](data:{i.media_type};base64,"
                  f"{base64.b64encode(i.data).decode()})" for i in m.images]
        lines += ["", "**Sources**", "", *(f"- {source_line(s)}" for s in m.sources), ""] \
            if m.sources else []
        if m.status != "complete":
            lines += [f"> ⚠️ Reply {m.status}" + (f": {m.reason}" if m.reason else ""), ""]
    return "\n".join(lines)


Imported = tuple[tuple[Any, ...], list[tuple[Any, ...]], list[int | None], int | None]


def parse_export(data: Any, now: float) -> Imported:
    """(title, settings JSON, created), message rows, each row's parent (an index of an
    earlier row, or None) and the active row's index, of an export; or a ValueError.

    A message row is (role, content, status, reason, settings JSON, created, updated,
    steps JSON or None, sources JSON or None, images);
    times missing or unreadable in the export become `now`.
    """
    def need(ok: bool, problem: str) -> None:
        if not ok:
            raise ValueError(problem)

    need(isinstance(data, Mapping), "not a conversation export: expected a JSON object")
    need(data.get("format") == EXPORT_FORMAT,
         f'not a conversation export: "format" must be "{EXPORT_FORMAT}"')
    version = data.get("version")
    need(type(version) is int and version >= 1, '"version" must be a positive whole number')
    need(version <= EXPORT_VERSION, f"this export is version {version}, from a newer app; "
                                    f"this one reads up to version {EXPORT_VERSION}")
    need(isinstance(data.get("title") or "", str), '"title" must be a string')
    settings = data.get("settings")
    settings = {} if settings is None else settings
    need(isinstance(settings, Mapping), '"settings" must be an object')
    # Newer keys are dropped, and so are the tools a chat always allows: consent is given
    # in a chat, and does not travel with a file or a branch.
    settings = {k: settings[k] for k in SETTINGS_KEYS if k in settings and k != "allowed_tools"}
    need(all(type(v) in (str, int, float) for v in settings.values()),
         '"settings" values must be strings or numbers')
    messages = data.get("messages")
    need(isinstance(messages, list), '"messages" must be a list')
    need(len(messages) <= MAX_IMPORT_MESSAGES,
         f"too many messages ({len(messages):,}; the limit is {MAX_IMPORT_MESSAGES:,})")
    rows, parents = [], []
    for i, m in enumerate(messages):
        need(isinstance(m, Mapping), f"messages[{i}] must be an object")
        need(m.get("role") in ROLES, f'messages[{i}].role must be "user" or "assistant"')
        need(isinstance(m.get("content"), str), f"messages[{i}].content must be a string")
        status = m.get("status", "complete")
        need(status in STATUSES, f"messages[{i}].status must be one of {', '.join(STATUSES)}")
        reason, extra = m.get("reason"), m.get("settings")
        need(reason is None or isinstance(reason, str),
             f"messages[{i}].reason must be a string or null")
        need(extra is None or isinstance(extra, Mapping),
             f"messages[{i}].settings must be an object or null")
        try:
            steps, sources = steps_json(m.get("steps")), sources_json(m.get("sources"))
            images = _images(m.get("images"))
        except ValueError as exc:
            raise ValueError(f"messages[{i}].{exc}") from None
        parent = m.get("parent", i - 1 if i else None) if version >= 2 else (i - 1 if i else None)
        need(parent is None or (type(parent) is int and 0 <= parent < i),
             f"messages[{i}].parent must be the index of an earlier message, or null")
        parents.append(parent)
        created = _seconds(m.get("created"), now)
        rows.append((m["role"], clean_text(m["content"]),
                     "stopped" if status == "streaming" else status,  # it stopped at export
                     reason and clean_text(reason), None if extra is None else json.dumps(extra),
                     created, _seconds(m.get("updated"), created), steps, sources, images))
    active = data.get("active", len(rows) - 1 if rows else None) if version >= 2 \
        else (len(rows) - 1 if rows else None)
    need(active is None or (type(active) is int and 0 <= active < len(rows)),
         '"active" must be the index of a message, or null')
    title = clean_title(data.get("title") or "")
    return ((title, json.dumps(settings), min(_seconds(data.get("created"), now), now)), rows,
            parents, active)


def _images(value: Any) -> tuple[StoredImage, ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        raise ValueError("images must be a list")
    images = []
    for image in value:
        if not isinstance(image, Mapping) or image.get("media_type") not in IMAGE_TYPES \
                or not isinstance(image.get("data"), str) \
                or len(image["data"]) > MAX_IMPORT_IMAGE_BYTES * 4 // 3 + 4:
            raise ValueError(f"images must each have a media_type ({', '.join(IMAGE_TYPES)}) "
                             "and base64 data of at most 20 MB")
        try:
            data = base64.b64decode(image["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("an image's data is not base64") from None
        images.append(StoredImage(image["media_type"], data, clean_text(str(image.get("name") or ""))))
    return tuple(images)
