"""Our replies and notices as Chatbot messages, and Chatbot history as our messages.

The only module that knows Gradio's message shapes. A reply is shown as its steps
(a collapsible "Thinking" message each), then its text, then one notice under it:
the stats line, a refusal mark, or why it is incomplete with Continue/Regenerate.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..conversation.turn import Notice, Update
from ..domain.messages import Image, Message, Text, ToolCall, ToolResult
from ..domain.moderation import ANSWERED_UNCHECKED
from ..domain.reply import Reply, Step
from ..domain.sources import Source, shown_sources
from .image_policy import ImagePolicy
from .reply_stats import format_stats
from .safe_markdown import code_fence, markdown_text, safe_markdown

INCOMPLETE_NOTICE_ID = "incomplete"
CONTINUE = "Continue"  # the incomplete mark's options: web/chat_actions.py makes them actions
REGENERATE = "Regenerate"
STATS_NOTICE_ID = "stats"
REFUSAL_NOTICE_ID = "refusal"
FLAGGED_NOTICE_ID = "flagged"  # the message before it is never sent again
STEP_ID_PREFIX = "step-"
SOURCES_NOTICE_ID = "sources"
SourceLink = Callable[[Source], str]  # the URL that opens a source
NO_IMAGES = ImagePolicy()  # no image from elsewhere shows by itself
RAW: ImagePolicy | None = None  # the text as the model wrote it, for API clients to render
STOPPED = "You stopped this reply."
REFUSED = "🚫 The model declined this request."
TOOLS_OFF = "🔧 Tools are off for this model: its server refused a request with tools."
STATUS_WORDS = {
    "stopped": STOPPED,
    "streaming": "The app stopped while this reply was being written.",
    "failed": "The reply failed.",
    "truncated": "The reply was cut short.",
}


def notice(title: str, *, notice_id: str, text: str = "", pending: bool = False,
           options: Sequence[str] = ()) -> dict[str, Any]:
    """A titled message of ours; the title may quote a server, so it is made safe."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "metadata": {"title": safe_markdown(title, NO_IMAGES), "id": notice_id,
                     "status": "pending" if pending else "done"},
    }
    if options:
        message["options"] = [{"value": value} for value in options]
    return message


def incomplete_notice(reason: str, has_text: bool) -> dict[str, Any]:
    """The mark under a reply that did not finish, with what the user can do next."""
    if has_text:
        return notice(f"⚠️ Reply incomplete: {reason}", notice_id=INCOMPLETE_NOTICE_ID,
                      options=[CONTINUE, REGENERATE])
    return notice(f"⚠️ {reason}", notice_id=INCOMPLETE_NOTICE_ID, options=[REGENERATE])


TOOL_ICON = "🔧 "
SHOWN_CHARS = 1500  # of a tool's arguments or result, in its step
_TOOL_BODY = re.compile(r"\A\*\*Arguments\*\*\n(`{3,})json\n(.*?)\n\1\n\n"
                        r"\*\*Result\*\*\n(`{3,})\n(.*)\n\3\Z", re.DOTALL)


def _safe(text: str, images: ImagePolicy | None) -> str:
    """Text safe to show in a browser (web/safe_markdown.py); as written for `RAW`."""
    return text if images is None else safe_markdown(text, images)


def _trim(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + " …"


def step_message(step: Step, index: int, images: ImagePolicy | None = NO_IMAGES) -> dict[str, Any]:
    if step.kind == "tool":
        title = TOOL_ICON + step.name + (" (failed)" if step.failed else "")
        body = (f"**Arguments**\n{code_fence(_trim(step.arguments), 'json')}\n\n"
                f"**Result**\n{code_fence(_trim(step.text) if step.done else '…')}")
        message = notice(title, notice_id=f"{STEP_ID_PREFIX}{index}", text=body,
                         pending=not step.done)
        if step.done:
            message["metadata"]["duration"] = round(step.duration(), 3)
        return message
    title = f"💭 Thought for {step.duration():.1f} s" if step.done else "💭 Thinking…"
    return notice(title, notice_id=f"{STEP_ID_PREFIX}{index}",
                  text=_safe(step.text, images), pending=not step.done)


def _parallel(steps: Sequence[Step], i: int) -> int:
    """How many tool calls of one round start at steps[i]: they came with no text between."""
    j = i
    while j < len(steps) and steps[j].kind == "tool" and steps[j].at == steps[i].at \
            and steps[j].round == steps[i].round:
        j += 1
    return j - i


def tools_group(calls: Sequence[Step], index: int) -> dict[str, Any]:
    """The step that holds a round's parallel tool calls, nested in it by parent id."""
    done = all(step.done for step in calls)
    group = notice(f"{TOOL_ICON}{len(calls)} tools at once", notice_id=f"tools-{index}",
                   pending=not done)
    if done:
        group["metadata"]["duration"] = round(max(step.duration() for step in calls), 3)
    return group


def _shown(steps: Sequence[Step], text: str, images: ImagePolicy | None) -> list[Any]:
    """Steps and text in the order they came (text as plain strings, as ChatInterface takes)."""
    shown: list[Any] = []
    written, parent = 0, ""
    for i, step in enumerate(steps):
        if step.at > written:
            shown.append(_safe(text[written:step.at], images))
            written, parent = step.at, ""
        if step.kind != "tool":
            parent = ""
        elif not parent and (count := _parallel(steps, i)) > 1:
            group = tools_group(steps[i:i + count], i)
            parent = group["metadata"]["id"]
            shown.append(group)
        message = step_message(step, i, images)
        if parent:
            message["metadata"]["parent_id"] = parent
        shown.append(message)
    if text[written:]:
        shown.append(_safe(text[written:], images))
    return shown


def tool_parts(title: str, body: str, index: int) -> tuple[ToolCall, ToolResult] | None:
    """A tool step shown in the chat, as the call and result to send back to the model."""
    if not title.startswith(TOOL_ICON):
        return None
    match = _TOOL_BODY.match(body)
    if match is None:
        return None
    name, failed = title[len(TOOL_ICON):].removesuffix(" (failed)"), title.endswith("(failed)")
    call_id = f"call_{index}"
    return (ToolCall(call_id, name, match[2]), ToolResult(call_id, name, match[4], failed))


def sources_notice(sources: Sequence[Source], link: SourceLink | None) -> dict[str, Any]:
    """The list under a reply of the passages it drew on, each opening the passage.
    A document's name and headings are shown as text, whatever they hold."""
    lines = [f"{s.number}. [{markdown_text(s.place)}]({link(s)})" if link
             else f"{s.number}. {markdown_text(s.place)}" for s in sources]
    return notice(f"📚 Sources ({len(sources)})", notice_id=SOURCES_NOTICE_ID,
                  text="\n".join(lines))


def render(update: Update, link: SourceLink | None = None,
           images: ImagePolicy | None = NO_IMAGES) -> Any:
    """What the chat function yields for one update of a turn, made safe to show."""
    if isinstance(update, Notice):
        if update.kind == "retrying":
            return notice(f"⏳ {update.message}", notice_id="retrying", pending=True)
        if update.kind == "unavailable":
            return incomplete_notice(update.message, has_text=False)
        return notice(f"⚠️ {update.message}", notice_id="invalid")
    reply = update
    if reply.ended is None:
        return _safe(reply.text, images) if not reply.steps \
            else _shown(reply.steps, reply.text, images)
    return _final(reply, link, images)


def _final(reply: Reply, link: SourceLink | None, images: ImagePolicy | None) -> Any:
    """The last update: steps, text, sources, and the stats line, refusal or incomplete mark."""
    shown = _shown(reply.steps, reply.text, images)
    sources = shown_sources(reply.text, reply.sources) if reply.text else []
    if sources:
        shown.append(sources_notice(sources, link))
    stats = format_stats(reply) if reply.text else ""
    if reply.tools_off:
        shown.append(notice(TOOLS_OFF, notice_id="tools-off"))
    if reply.moderation is not None and not reply.moderation.checked and reply.failure is None:
        shown.append(notice(ANSWERED_UNCHECKED, notice_id="moderation"))
    if reply.outcome == "flagged" and reply.failure is not None:
        shown.append(notice(reply.failure.message, notice_id=FLAGGED_NOTICE_ID))
    elif reply.failure is not None:
        mark = incomplete_notice(reply.failure.message, has_text=bool(reply.text))
        if stats:
            mark["metadata"]["log"] = stats
        shown.append(mark)
    elif reply.refused:
        shown.append(notice(REFUSED, notice_id=REFUSAL_NOTICE_ID, text=stats))
    elif stats:
        shown.append(notice(stats, notice_id=STATS_NOTICE_ID))
    return shown[0] if len(shown) == 1 else shown


def stored_reply(text: str, steps: Iterable[Step], status: str, reason: str | None,
                 sources: Sequence[Source] = (), link: SourceLink | None = None,
                 images: ImagePolicy | None = NO_IMAGES) -> list[Any]:
    """A saved reply as the live chat showed it, as Chatbot messages."""
    shown = [{"role": "assistant", "content": m} if isinstance(m, str) else m
             for m in _shown(list(steps), text, images)]
    if sources:
        shown.append(sources_notice(sources, link))
    if status == "refused" and reason:  # refused by moderation, not by the model
        shown.append(notice(reason, notice_id=FLAGGED_NOTICE_ID))
    elif status == "refused":
        shown.append(notice(REFUSED, notice_id=REFUSAL_NOTICE_ID))
    elif status != "complete":
        words = reason or STATUS_WORDS.get(status, "The reply is incomplete.")
        shown.append(incomplete_notice(words, has_text=bool(text)))
    return shown


def mark_stopped(history: list[Any]) -> list[Any]:
    """The chat after Stop: a reply cut short by the user gets the incomplete mark."""
    if not history:
        return history
    last = history[-1]
    role = _field(last, "role")
    notice_id = str((_field(last, "metadata") or {}).get("id") or "")
    if role != "assistant" or (notice_id and not notice_id.startswith(STEP_ID_PREFIX)):
        return history
    return [*history, incomplete_notice(STOPPED, has_text=True)]


# Chatbot history -> our messages -------------------------------------------------------

def message_text(content: Any) -> str:
    """The text of a message's content, whichever shape Gradio gave it."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if content.get("type", "text") == "text" and isinstance(content.get("text"), str):
            return str(content["text"])
        return ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""  # files and components carry no text for the model


def _field(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, dict) else getattr(message, name, None)


def file_paths(content: Any) -> list[str]:
    """The paths of the files in a message's content, whichever shape Gradio gave it."""
    if isinstance(content, (list, tuple)):
        return [path for part in content for path in file_paths(part)]
    if isinstance(content, dict):
        if content.get("type") == "file":
            inner = content.get("file")
            return [inner] if isinstance(inner, str) else file_paths(inner)
        path = content.get("path")
        return [path] if isinstance(path, str) and content.get("type") != "text" else []
    inner = getattr(content, "file", None)
    path = getattr(inner if inner is not None else content, "path", None)
    return [path] if isinstance(path, str) else []


def history_files(history: Iterable[Any]) -> list[str]:
    """The paths of the files users sent in `history`."""
    return [path for item in history or () if _field(item, "role") == "user"
            for path in file_paths(_field(item, "content"))]


def history_messages(history: Iterable[Any], images: Mapping[str, Image] | None = None
                     ) -> list[Message]:
    """Gradio's history (either shape) as our messages: one per turn and role.

    Notices and steps are dropped; an incomplete mark flags the reply before it. A
    user's file becomes an image part when `images` has its path.
    """
    result: list[Message] = []
    for index, item in enumerate(history or ()):
        role = _field(item, "role")
        metadata = _field(item, "metadata") or {}
        title = str(metadata.get("title") or "")
        parts = tool_parts(title, message_text(_field(item, "content")), index) \
            if role == "assistant" and title.startswith(TOOL_ICON) else None
        if parts is not None:
            last = result[-1] if result else None
            if last is not None and last.role == "assistant":
                result[-1] = Message("assistant", (*last.parts, *parts), last.incomplete)
            else:
                result.append(Message("assistant", parts))
            continue
        if role == "assistant" and metadata.get("title"):
            if metadata.get("id") == FLAGGED_NOTICE_ID:
                while result and result[-1].role == "assistant":
                    result.pop()
                if result:
                    result.pop()  # the message moderation flagged
            elif metadata.get("id") == INCOMPLETE_NOTICE_ID and result:
                last = result[-1]
                if last.role == "assistant":
                    result[-1] = Message("assistant", last.parts, incomplete=True)
                else:
                    result.append(Message("assistant", (), incomplete=True))
            continue
        text = message_text(_field(item, "content"))
        sent = tuple(images[path] for path in file_paths(_field(item, "content"))
                     if path in images) if images and role == "user" else ()
        if role == "assistant" and result and result[-1].role == "assistant":
            last = result[-1]
            others = tuple(p for p in last.parts if not isinstance(p, Text))
            result[-1] = Message("assistant", (Text(last.text + text), *others), last.incomplete)
        elif role == "user" and result and result[-1].role == "user" \
                and not (result[-1].text and text):  # a file, and its message's text
            last = result[-1]
            joined = last.text or text
            result[-1] = Message("user", (*(Text(joined),) * bool(joined), *last.images, *sent))
        elif role in ("user", "assistant"):
            result.append(Message(role, (*(Text(text),) * bool(text), *sent)))
    return result
