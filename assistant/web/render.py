"""Our records, replies and notices as Chatbot messages: this module only renders.

A reply is shown as its steps
(a collapsible "Thinking" message each), then its text, then one notice under it:
the stats line, a refusal mark, or why it is incomplete with Continue/Regenerate.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Iterable, Sequence

from ..conversation.prepare import Notice
from ..conversation.turn import Update
from ..domain.moderation import ANSWERED_UNCHECKED
from ..domain.reply import Place, Reply, Step
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
VERSIONS_NOTICE_ID = "versions"
VERSION_LINK = "#version-"  # the page's script makes a click on such a link a switch
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
    shown = safe_markdown(title, NO_IMAGES)
    if VERSION_LINK in shown and notice_id != VERSIONS_NOTICE_ID:  # the page would switch
        shown = shown.replace(VERSION_LINK, "#version\u2060-")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "metadata": {"title": shown, "id": notice_id,
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


def versions_notice(role: str, versions: Sequence[int | None], at: int) -> dict[str, Any]:
    """"◀ 2 / 3 ▶" under a message that has other versions (`versions`, oldest first,
    None for one not stored yet); the arrows link to the versions beside `at`."""
    def arrow(symbol: str, index: int) -> str:
        target = versions[index] if 0 <= index < len(versions) else None
        return f"[{symbol}]({VERSION_LINK}{target})" if target is not None else symbol
    whose = "Your message" if role == "user" else "Reply"
    return notice(f"{whose}: {arrow('◀', at - 1)} {at + 1} / {len(versions)} "
                  f"{arrow('▶', at + 1)}", notice_id=VERSIONS_NOTICE_ID)


def turn_versions(place: Place) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The versions control of the message a turn adds when it is a new version: under
    its user message (shown before the reply), or under its reply."""
    if not place.earlier:
        return [], []
    shown = [versions_notice("user" if place.asks else "assistant", [*place.earlier, None],
                             len(place.earlier))]
    return (shown, []) if place.asks else ([], shown)


TOOL_ICON = "🔧 "
SHOWN_CHARS = 1500  # of a tool's arguments or result, in its step


def _safe(text: str, images: ImagePolicy | None) -> str:
    """Text safe to show in a browser (web/safe_markdown.py); as written for `RAW`."""
    return text if images is None else safe_markdown(text, images)


def _trim(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + " …"


APPROVAL_NOTICE_ID = "approval"
# The question's options, by the answer each gives (web/chat_actions.py sends it).
APPROVAL_LABELS = {"allow": "Allow once", "always": "Always allow this tool in this chat",
                   "deny": "Deny"}
APPROVAL_WORDS = {
    "pending": "waiting for your answer",
    "allowed": "allowed once by you",
    "always": "always allowed in this chat",
    "denied": "denied by you",
    "timed out": "not answered",
}


def _tool_title(step: Step) -> str:
    if step.approval is not None:
        return f"{TOOL_ICON}{step.name} ({APPROVAL_WORDS[step.approval]}" + (
            ", failed)" if step.failed and step.approval in ("allowed", "always") else ")")
    return TOOL_ICON + step.name + (" (failed)" if step.failed else "")


def approval_question(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Under a reply that waits for the user: the tool it wants to run, where, with what,
    and the three answers."""
    step = next((s for s in steps if s.approval == "pending"), None)
    if step is None:
        return []
    where = f" from the MCP server **{markdown_text(step.server)}**" if step.server else ""
    question = notice(f"✋ Allow `{step.name}`{where} to run?", notice_id=APPROVAL_NOTICE_ID,
                      pending=True,
                      text=f"**Arguments**\n{code_fence(_trim(step.arguments), 'json')}\n\n"
                           "It may change things. Allow it only if you expect this call.")
    # The value names the call, so that a late click never answers the next question.
    question["options"] = [{"value": f"{choice}:{step.call_id}", "label": label}
                           for choice, label in APPROVAL_LABELS.items()]
    return [question]


def step_message(step: Step, index: int, images: ImagePolicy | None = NO_IMAGES) -> dict[str, Any]:
    if step.kind == "route":
        return notice(f"↪ {markdown_text(step.name)} · {markdown_text(step.text)}",
                      notice_id=f"{STEP_ID_PREFIX}{index}")
    if step.kind == "tool":
        title = _tool_title(step)
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


def sources_notice(sources: Sequence[Source], link: SourceLink | None) -> dict[str, Any]:
    """The list under a reply of the passages it drew on, each opening the passage.
    A document's name and headings are shown as text, whatever they hold."""
    lines = [f"{s.number}. [{markdown_text(s.place)}]({link(s)})" if link
             else f"{s.number}. {markdown_text(s.place)}" for s in sources]
    return notice(f"📚 Sources ({len(sources)})", notice_id=SOURCES_NOTICE_ID,
                  text="\n".join(lines))


def render(update: Update, link: SourceLink | None = None,
           images: ImagePolicy | None = NO_IMAGES) -> list[dict[str, Any]]:
    """One update of a turn as the Chatbot messages that show it, made safe to show."""
    if isinstance(update, Notice):
        if update.kind == "retrying":
            return [notice(f"⏳ {update.message}", notice_id="retrying", pending=True)]
        if update.kind == "unavailable":
            return [incomplete_notice(update.message, has_text=False)]
        return [notice(f"⚠️ {update.message}", notice_id="invalid")]
    reply = update
    if reply.ended is None:
        if not reply.steps:
            return chat_messages_of(_safe(reply.text, images))
        return chat_messages_of([*_shown(reply.steps, reply.text, images),
                                 *approval_question(reply.steps)])
    return chat_messages_of(_final(reply, link, images))


def as_yielded(messages: list[dict[str, Any]]) -> Any:
    """What ChatInterface's function yields for these messages, and /chat's callers get:
    the reply's text as plain strings, titled messages as dicts; one of them alone."""
    shown = [_plain(m) for m in messages]
    return shown[0] if len(shown) == 1 else shown


def _plain(message: dict[str, Any]) -> Any:
    content = message["content"]
    return content if message.keys() == {"role", "content"} and isinstance(content, str) \
        else message


def _final(reply: Reply, link: SourceLink | None, images: ImagePolicy | None) -> list[Any]:
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
        shown.append(stats_line(stats))
    return shown


def stats_line(stats: str) -> dict[str, Any]:
    """Plain small text under a reply: an id but no title, so nothing folds or opens."""
    return {"role": "assistant", "content": f"<small>{html.escape(stats, quote=False)}</small>",
            "metadata": {"id": STATS_NOTICE_ID}}


def stored_reply(text: str, steps: Iterable[Step], status: str, reason: str | None,
                 sources: Sequence[Source] = (), link: SourceLink | None = None,
                 images: ImagePolicy | None = NO_IMAGES, stats: str = "") -> list[Any]:
    """A saved reply as the live chat showed it, as Chatbot messages, with its stats line."""
    steps = list(steps)
    shown = chat_messages_of(_shown(steps, text, images))
    if sources:
        shown.append(sources_notice(sources, link))
    if status == "refused" and reason:  # refused by moderation, not by the model
        shown.append(notice(reason, notice_id=FLAGGED_NOTICE_ID))
    elif status == "refused":
        shown.append(notice(REFUSED, notice_id=REFUSAL_NOTICE_ID, text=stats))
    elif status == "streaming":  # followed as it goes on; it may be waiting for an answer
        shown += approval_question(steps)
    elif status != "complete":
        words = reason or STATUS_WORDS.get(status, "The reply is incomplete.")
        mark = incomplete_notice(words, has_text=bool(text))
        if stats:
            mark["metadata"]["log"] = stats
        shown.append(mark)
    elif stats:
        shown.append(stats_line(stats))
    return shown


def chat_messages_of(shown: Any) -> list[dict[str, Any]]:
    """What `render` returns, as the Chatbot messages ChatInterface would make of it."""
    items = shown if isinstance(shown, list) else [shown]
    return [{"role": "assistant", "content": m} if isinstance(m, str) else m for m in items]
