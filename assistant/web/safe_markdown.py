"""Markdown made safe to show: nothing in it makes the browser fetch or send anything.

A model's text is written by whoever put text in front of it (a document, a tool
result), so before it reaches the page:
- an image from outside the app becomes a link that names its host
  ("🖼 image from example.com"), unless its host is allowed;
- raw HTML is shown as text, except a few plain tags with no attributes;
- a link to a javascript:, data: or vbscript: address loses its link, and a link
  elsewhere names its host when hovered.

Code spans and fenced blocks are left alone: the page shows them as text. The
Content-Security-Policy (web/security_headers.py) enforces the same in the browser.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator

from .image_policy import ImagePolicy, is_dead_link, shown_host

# Tags that carry no address and do nothing, allowed bare: `<br>`, `<sub>`, `</b>`.
PLAIN_TAGS = frozenset((
    "b", "i", "em", "strong", "u", "s", "del", "ins", "sub", "sup", "mark", "small", "kbd",
    "br", "hr", "p", "ul", "ol", "li", "blockquote", "details", "summary", "table", "thead",
    "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd"))
_CODE_START, _CODE_END = "\ue000", "\ue001"  # private-use: around a code region's number
_PLACEHOLDER = re.compile(f"{_CODE_START}(\\d+){_CODE_END}")
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n]*)$", re.M)
_BACKTICKS = re.compile(r"`+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_PLAIN_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\s*/?>")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*|[^\s@<>]+@[^\s@<>]+)>")
_REFERENCE = re.compile(r"^ {0,3}\[((?:[^\[\]\\]|\\.){1,999})\]:[ \t]*\n?[ \t]*(<[^<>\n]*>|\S+)",
                        re.M)
_IMAGE_START = re.compile(r"!\[")
_BLOCK_START = re.compile(r"[\s>*+\-\d.)]*")  # indentation, quote and list markers
CACHED_CHARS = 4000  # finished paragraphs up to this long are remembered
_Hide = Callable[[str], str]


def safe_markdown(text: str, images: ImagePolicy) -> str:
    """`text` with outside images as links, raw HTML as text and dead links as text."""
    if "<" not in text and "[" not in text:
        return text  # the common case on the hot path: nothing to change
    text = text.replace(_CODE_START, "\ufffd").replace(_CODE_END, "\ufffd")
    if "\r" in text:  # as the page's Markdown reads it
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    references = tuple(sorted(_references(text).items())) if "]:" in text else ()
    pieces: list[str] = []
    for piece, code in _blocks(text):
        if code or ("<" not in piece and "[" not in piece):
            pieces.append(piece)
        elif piece.endswith("\n") and len(piece) <= CACHED_CHARS:  # finished: the same each update
            pieces.append(_cached_paragraph(piece, images, references))
        else:
            pieces.append(_safe_paragraph(piece, images, references))
    return "".join(pieces)


def _blocks(text: str) -> Iterator[tuple[str, bool]]:
    """Fenced code blocks (True) and the paragraphs between them, with their breaks."""
    at = 0
    for opening in _FENCE_OPEN.finditer(text):
        if opening.start() < at:
            continue  # inside the block before
        fence, info = opening[1], opening[2]
        if fence[0] == "`" and "`" in info:
            continue  # a code span on one line, not a fence
        indent = len(opening[0]) - len(opening[0].lstrip(" \t"))  # a closing fence may have 3 more
        closing = re.compile(rf"^[ \t]{{0,{indent + 3}}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$",
                             re.M)
        end_match = closing.search(text, opening.end())
        end = end_match.end() if end_match else len(text)
        yield from _paragraphs(text[at:opening.start()])
        yield text[opening.start():end], True
        at = end
    yield from _paragraphs(text[at:])


def _paragraphs(text: str) -> Iterator[tuple[str, bool]]:
    """Code spans and links end with their paragraph, so each is made safe on its own."""
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield text[start:match.end()], False
        start = match.end()
    if start < len(text):
        yield text[start:], False


def _safe_paragraph(text: str, images: ImagePolicy,
                    references: tuple[tuple[str, str], ...]) -> str:
    codes: list[str] = []

    def hide(code: str) -> str:
        codes.append(code)
        return f"{_CODE_START}{len(codes) - 1}{_CODE_END}"

    prose = _hide_spans(text, hide)
    if "[" in prose:
        prose = _Links(prose, images, dict(references), hide).rewrite()
        prose = _IMAGE_START.sub(_no_image, prose)  # any image not shown above: none at all
    if "<" in prose:
        prose = _TAG_START.sub(_escaped_tag, prose)
    return _PLACEHOLDER.sub(lambda m: codes[int(m[1])], prose) if codes else prose


_cached_paragraph = lru_cache(maxsize=2048)(_safe_paragraph)


def _no_image(match: re.Match[str]) -> str:
    return match[0] if _escaped(match.string, match.start()) else "\\!["


def _hide_spans(text: str, hide: _Hide) -> str:
    """Code spans: a run of backticks up to the next run as long, on one line and with no `|`
    (a table's cell would end there). A span the page might read otherwise stays prose."""
    if "`" not in text:
        return text
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    breaks = [m.start() for m in re.finditer("\n", text)]
    pieces: list[str] = []
    at = 0
    for index, (start, end) in enumerate(runs):
        if start < at or _escaped(text, start):  # inside the span before, or \` (literal)
            continue
        same = by_length[end - start]
        following = bisect_right(same, index)
        paragraph = bisect_right(breaks, start)
        limit = breaks[paragraph] if paragraph < len(breaks) else len(text)
        if following == len(same) or runs[same[following]][0] >= limit:
            continue
        closing = runs[same[following]][1]
        if "|" in text[start:closing] or _in_destination(text, start):
            continue
        pieces += [text[at:start], hide(text[start:closing])]
        at = closing
    pieces.append(text[at:])
    return "".join(pieces)


def _in_destination(text: str, at: int) -> bool:
    """Whether `at` may be inside a link's `(address)`, where a backtick opens no code."""
    opening = text.rfind("](", text.rfind("\n", 0, at) + 1, at)
    return opening != -1 and re.search(r"[\s)]", text[opening + 2:at]) is None


def _references(prose: str) -> dict[str, str]:
    """Reference definitions, `[label]: address`, by their normalised label."""
    found: dict[str, str] = {}
    for match in _REFERENCE.finditer(prose):
        found.setdefault(_label(match[1]), match[2])
    return found


def _label(label: str) -> str:
    return " ".join(label.split()).casefold()


def _escaped_tag(match: re.Match[str]) -> str:
    """`<` as text, unless it starts an autolink, or a plain tag inside a line (at a line's
    start a tag opens an HTML block, where Markdown, code spans included, is not read)."""
    text, at = match.string, match.start()
    plain = _PLAIN_TAG.match(text, at)
    if plain is not None and plain[1].lower() in PLAIN_TAGS \
            and not _BLOCK_START.fullmatch(text, text.rfind("\n", 0, at) + 1, at):
        return "<"
    autolink = _AUTOLINK.match(text, at)
    if autolink is not None and not is_dead_link(autolink[1]):
        return "<"
    return "&lt;"


class _Links:
    """Rewrites the images and links of prose (code already hidden), left to right."""

    def __init__(self, prose: str, images: ImagePolicy, references: dict[str, str],
                 hide: _Hide) -> None:
        self.prose, self.images, self.references, self.hide = prose, images, references, hide
        self.index = _Index(prose)

    def rewrite(self, start: int = 0, end: int | None = None, in_link: bool = False) -> str:
        text, end = self.prose, len(self.prose) if end is None else end
        out: list[str] = []
        at = i = start
        while (i := text.find("[", i, end)) != -1:
            close = self.index.brackets.get(i)
            close = close if close is not None and close < end else None
            target = None if close is None else self._target(close + 1, end, text[i + 1:close])
            if close is None or target is None:
                i += 1
                continue
            image = i > start and text[i - 1] == "!" and not _escaped(text, i - 1)
            first = i - 1 if image else i
            out.append(text[at:first])
            if image:
                out.append(self._image(text[first:target.after], target, in_link))
            else:
                out.append(self._link(i, close, target))
            at = i = target.after
        out.append(text[at:end])
        return "".join(out)

    def _target(self, at: int, end: int, inner: str) -> _Target | None:
        """Where the `[...]` ending before `at` points, if it is a link or an image."""
        text = self.prose
        if at < end and text[at] == "(":
            return _inline_target(text, at, end, self.index)
        if at < end and text[at] == "[":
            close = self.index.brackets.get(at, end)
            if close >= end or "[" in text[at + 1:close]:
                return None
            address = self.references.get(_label(text[at + 1:close] or inner))
            return None if address is None else _Target(address, close + 1, text[at:close + 1])
        address = self.references.get(_label(inner))  # a shortcut: [label] alone
        return None if address is None else _Target(address, at, "")

    def _image(self, original: str, target: _Target, in_link: bool) -> str:
        if self.images.shows(target.address):
            return self.hide(original)  # kept as it is, and not taken for an unshown image
        host = shown_host(target.address)
        label = f"🖼 image from {markdown_text(host)}" if host else "🖼 image"
        if in_link or is_dead_link(target.address):
            return label
        return f"[{label}]{target.tail or '(' + target.address + ')'}"

    def _link(self, open_: int, close: int, target: _Target) -> str:
        inner = self.rewrite(open_ + 1, close, in_link=True)
        if is_dead_link(target.address):
            return inner
        host = shown_host(target.address)
        tail = target.tail
        if host and not target.titled and tail.startswith("("):
            tail = f'{tail[:-1].rstrip()} "{host}")'  # shown when hovered
        return f"[{inner}]{tail}"


@dataclass(frozen=True)
class _Target:
    address: str
    after: int  # the index after the link or image
    tail: str  # what followed `[...]` in the text: `(address "title")`, `[label]` or nothing
    titled: bool = False


def _escaped(text: str, at: int) -> bool:
    backslashes = 0
    while at - backslashes - 1 >= 0 and text[at - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _pairs(text: str, opening: str, closing: str) -> dict[int, int]:
    """Each opening character that has its closing one, by position, matched as a stack."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for match in re.finditer(f"[{re.escape(opening)}{re.escape(closing)}]", text):
        at = match.start()
        if _escaped(text, at):
            continue
        if text[at] == opening:
            stack.append(at)
        elif stack:
            pairs[stack.pop()] = at
    return pairs


def _inline_target(text: str, at: int, end: int, index: _Index) -> _Target | None:
    """`(address "title")` at `at`, as CommonMark reads it."""
    i = _skip_space(text, at + 1, end)
    if i < end and text[i] == "<":
        close = index.next(">", i + 1, end)
        if close == -1 or index.next("\n", i, close) != -1:
            return None
        address, i = text[i:close + 1], close + 1
    else:  # up to whitespace, or the `)` that closes `(`: the parentheses inside pair up
        closing = index.parens.get(at, end)
        space = index.next(" ", i, end)
        i = min(closing, space if space != -1 else end, end)
        address = text[_skip_space(text, at + 1, end):i]
    i = _skip_space(text, i, end)
    titled = i < end and text[i] in "\"'("
    if titled:
        close = index.next(")" if text[i] == "(" else text[i], i + 1, end)
        if close == -1:
            return None
        i = _skip_space(text, close + 1, end)
    if i >= end or text[i] != ")":
        return None
    return _Target(address, i + 1, text[at:i + 1], titled)


class _Index:
    """Where the characters that end links are, so that each look-up is a bisection and a
    reply of many unclosed links costs one pass, not one per link."""

    def __init__(self, text: str) -> None:
        self.brackets = _pairs(text, "[", "]")
        self.parens = _pairs(text, "(", ")")
        self.positions: dict[str, list[int]] = {}
        for match in re.finditer(r"[\s>\"')]", text):
            char = " " if match[0].isspace() else match[0]
            self.positions.setdefault(char, []).append(match.start())
            if match[0] == "\n":
                self.positions.setdefault("\n", []).append(match.start())

    def next(self, char: str, start: int, end: int) -> int:
        """The first `char` (" ": any whitespace) in text[start:end], or -1."""
        found = self.positions.get(char, [])
        i = bisect_left(found, start)
        return found[i] if i < len(found) and found[i] < end else -1


def _skip_space(text: str, i: int, end: int) -> int:
    while i < end and text[i] in " \t\n":
        i += 1
    return i


def markdown_text(text: str) -> str:
    """Plain text shown as itself inside a line of Markdown: no markup, links, images or
    HTML (what only matters at a line's start, such as `#` or `1.`, is left alone)."""
    return re.sub(r"([\\`*_\[\]!|~])", r"\\\1", text).replace("<", "&lt;")


def code_fence(text: str, info: str = "") -> str:
    """`text` in a fenced block that nothing inside can close: the fence is longer than
    any run of backticks in it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"

