"""The sidebar's chat list, drawn as HTML from the store's records.

Pinned chats come first, then folders, then the other chats by date: Today, Yesterday,
Previous 7 days, Older. While the visitor searches, it lists the matching messages
instead, their matching words marked. Every text is escaped here; the page's script
(CHAT_LIST_SCRIPT) turns a click on a button into an event with its `data-` fields.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Iterable, Sequence

from ..storage.records import MATCH_END, MATCH_START, ConversationSummary, Folder, SearchHit

UNTITLED = "Untitled chat"
CHAT_LIST_ID = "conversation-list"
MARKED = re.compile(re.escape(MATCH_START) + "(.*?)" + re.escape(MATCH_END), re.S)

# Rename, move and new folder ask for a name, deletes for a confirmation, in the
# browser's own dialogs (keyboard and phone friendly); then the server gets the event.
CHAT_LIST_SCRIPT = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-act]');
  if (!button || !element.contains(button)) return;
  const d = button.dataset;
  const data = {act: d.act, id: d.id || '', message: Number(d.message || 0), text: ''};
  if (d.act === 'share') {  // opens the chat, and the Share box under the list
    data.act = 'open';
    const header = document.querySelector('#share-box .label-wrap');
    if (header && !header.classList.contains('open')) header.click();
  } else if (['rename', 'rename-folder', 'new-folder', 'move'].includes(d.act)) {
    const asked = window.prompt(d.ask, d.name || '');
    if (asked === null) return;
    data.text = asked;
  } else if (d.ask && !window.confirm(d.ask)) {
    return;
  }
  trigger('click', data);
});
// A search hit opened: once the chat shows, scroll it to the message found.
new MutationObserver(() => {
  const mark = element.querySelector('[data-scroll-asked]');
  if (!mark) return;
  const asked = Number(mark.dataset.scrollAsked), reply = mark.dataset.scrollReply === '1';
  mark.remove();
  setTimeout(() => {
    const chat = document.querySelector('#chat-log');
    if (!chat) return;
    const question = chat.querySelectorAll('[data-testid="user"]')[asked];
    if (!question) return;
    const answer = reply ? [...chat.querySelectorAll('[data-testid="bot"]')].find(
      (bot) => question.compareDocumentPosition(bot) & Node.DOCUMENT_POSITION_FOLLOWING) : null;
    const found = answer || question;
    found.classList.add('found-message');
    // The chat scrolls itself to its end as its messages finish drawing: scroll back,
    // until the visitor scrolls it.
    let moved = false;
    const stop = () => { moved = true; };
    ['wheel', 'touchstart', 'keydown'].forEach((e) => chat.addEventListener(e, stop, {once: true}));
    [0, 250, 600, 1000, 1600].forEach((wait) => setTimeout(() => {
      if (!moved) found.scrollIntoView({block: 'start'});
    }, wait));
    setTimeout(() => found.classList.remove('found-message'), 2500);
  }, 300);
}).observe(element, {childList: true, subtree: true});
"""


def scroll_mark(asked: int, reply: bool) -> str:
    """Has the page scroll the chat to the `asked`-th question (from 0), or its reply."""
    return f'<span hidden data-scroll-asked="{int(asked)}" data-scroll-reply="{int(reply)}"></span>'


def chat_label(chat: ConversationSummary) -> str:
    title = chat.title or UNTITLED
    return f"{title} · {chat.branches} branches" if chat.branches > 1 else title


def date_group(updated: float, today: dt.date) -> str:
    day = dt.datetime.fromtimestamp(updated).date()
    if day >= today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    return "Previous 7 days" if day > today - dt.timedelta(days=8) else "Older"


def chat_list_html(chats: Sequence[ConversationSummary], folders: Sequence[Folder],
                   current: str | None, today: dt.date | None = None,
                   sharing: bool = False) -> str:
    today = today or dt.date.today()
    folder_names = {f.id: f.name for f in folders}
    parts = ['<nav aria-label="Chats" class="chat-list">']
    pinned = [c for c in chats if c.pinned]
    if pinned:
        parts += _group("Pinned", pinned, current, folder_names, sharing)
    for folder in folders:
        inside = [c for c in chats if c.folder_id == folder.id and not c.pinned]
        name = html.escape(folder.name)
        parts.append(f'<details class="chat-folder" open><summary>📁 {name} '
                     f'<span class="chat-count">({len(inside)})</span></summary>'
                     '<div class="chat-actions">'
                     + _button("✏️", f"Rename folder {folder.name}", "rename-folder", folder.id,
                               ask="New name of the folder", name=folder.name)
                     + _button("🗑️", f"Delete folder {folder.name}", "delete-folder", folder.id,
                               ask=f"Delete the folder “{folder.name}”? Its chats stay.")
                     + "</div>")
        parts += _items(inside, current, folder_names, sharing)
        parts.append("</details>")
    loose = [c for c in chats if not c.pinned and c.folder_id not in folder_names]
    for group in ("Today", "Yesterday", "Previous 7 days", "Older"):
        dated = [c for c in loose if date_group(c.updated, today) == group]
        if dated:
            parts += _group(group, dated, current, folder_names, sharing)
    if not chats:
        parts.append('<p class="chat-empty">No chats yet. Your chats are kept here.</p>')
    parts.append(_button("+ New folder", "New folder", "new-folder", "",
                         ask="Name of the new folder", text=True))
    parts.append("</nav>")
    return "".join(parts)


def search_results_html(query: str, hits: Sequence[SearchHit]) -> str:
    parts = ['<nav aria-label="Search results" class="chat-list">']
    if not hits:
        parts.append(f'<p class="chat-empty">No message matches “{html.escape(query)}”.</p>')
    else:
        parts.append(f'<h2 class="chat-group">Messages that match ({len(hits)})</h2><ul>')
        for hit in hits:
            who = "You" if hit.role == "user" else "Assistant"
            parts.append(
                f'<li><button class="chat-hit" data-act="hit" data-id="{_attr(hit.conversation_id)}"'
                f' data-message="{int(hit.message_id)}"><span class="hit-title">'
                f'{html.escape(hit.title or UNTITLED)}</span><span class="hit-snippet">{who}: '
                f'{marked(hit.snippet)}</span></button></li>')
        parts.append("</ul>")
    parts.append("</nav>")
    return "".join(parts)


def marked(snippet: str) -> str:
    """The snippet escaped, its matches in <mark>; a stray marker is dropped."""
    pieces, at = [], 0
    for match in MARKED.finditer(snippet):
        pieces.append(_plain(snippet[at:match.start()]))
        pieces.append(f"<mark>{_plain(match.group(1))}</mark>")
        at = match.end()
    pieces.append(_plain(snippet[at:]))
    return "".join(pieces)


def _plain(text: str) -> str:
    return html.escape(text.replace(MATCH_START, "").replace(MATCH_END, ""))


def _group(title: str, chats: Iterable[ConversationSummary], current: str | None,
           folder_names: dict[str, str], sharing: bool) -> list[str]:
    return [f'<h2 class="chat-group">{title}</h2>',
            *_items(chats, current, folder_names, sharing)]


def _items(chats: Iterable[ConversationSummary], current: str | None,
           folder_names: dict[str, str], sharing: bool) -> list[str]:
    items = []
    for chat in chats:
        label = chat_label(chat)
        now = ' aria-current="page"' if chat.id == current else ""
        pin = ("📌", f"Unpin {label}", "unpin") if chat.pinned else ("📍", f"Pin {label}", "pin")
        items.append(
            f'<li class="chat{" current" if now else ""}">'
            f'<button class="chat-open" data-act="open" data-id="{_attr(chat.id)}"{now}>'
            f"{html.escape(label)}</button><span class=\"chat-actions\">"
            + _button(pin[0], pin[1], pin[2], chat.id)
            + _button("✏️", f"Rename {label}", "rename", chat.id, ask="New title of the chat",
                      name=chat.title)
            + _button("📁", f"Move {label} to a folder", "move", chat.id,
                      ask="Move to which folder? A new name makes a new folder; "
                          "leave it empty to take the chat out of its folder.",
                      name=folder_names.get(chat.folder_id or "", ""))
            + (_button("🔗", f"Share {label}", "share", chat.id) if sharing else "")
            + _button("🗑️", f"Delete {label}", "delete", chat.id,
                      ask=f"Delete “{label}” for good?")
            + "</span></li>")
    return ["<ul>", *items, "</ul>"] if items else []


def _button(face: str, label: str, act: str, target: str, *, ask: str = "", name: str = "",
            text: bool = False) -> str:
    """A button; `label` names it for screen readers unless its `face` is words."""
    named = "" if text else f' aria-label="{_attr(label)}" title="{_attr(label)}"'
    extra = (f' data-ask="{_attr(ask)}"' if ask else "") + (
        f' data-name="{_attr(name)}"' if name else "")
    return (f'<button type="button" class="chat-action" data-act="{act}"'
            f' data-id="{_attr(target)}"{named}{extra}>{html.escape(face)}</button>')


def _attr(value: str) -> str:
    return html.escape(value, quote=True)
