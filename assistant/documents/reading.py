"""An uploaded file's bytes, read into sections of text: PDF, Markdown, HTML or plain text.

The kind comes from the content (`sniff`); the name only tells Markdown from plain text.
Anything that cannot be read raises `UnreadableFile`, whose message is shown in the chat.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

from pypdf import PdfReader
from pypdf.generic import Destination, DictionaryObject

_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif", b"GIF89a": "gif"}
_IMAGES = {"png", "jpeg", "gif", "webp"}
_UTF8_BOM = b"\xef\xbb\xbf"
_HTML_START = re.compile(r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S)
_HTML_TAGS = re.compile(r"<(?:head|body)[\s>]", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MARKDOWN_SUFFIXES = {".md", ".markdown"}
_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}


class UnreadableFile(ValueError):
    """A file that cannot be read; str() is a sentence for the person who uploaded it."""


@dataclass(frozen=True)
class Section:
    page: int | None  # 1-based, PDFs only
    heading: str  # the nearest heading above, "" if none
    text: str


@dataclass(frozen=True)
class ReadDocument:
    kind: str  # "pdf" | "markdown" | "text" | "html"
    pages: int
    sections: tuple[Section, ...]


def sniff(data: bytes) -> str:
    """The file's kind from its content: pdf, png, jpeg, gif, webp, html, text, binary or empty."""
    return _classify(data)[0]


def read_document(data: bytes, name: str, *, max_pages: int) -> ReadDocument:
    """The file's text in sections; raises UnreadableFile with a message fit for the chat."""
    label = f"“{PurePath(name).name or 'The file'}”"
    kind, text = _classify(data)
    if kind == "empty":
        raise UnreadableFile(f"{label} is empty.")
    if kind in _IMAGES:
        raise UnreadableFile(f"{label} is an image: attach it to a message instead.")
    if kind == "pdf":
        return _read_pdf(data, label, max_pages)
    if text is None:
        raise UnreadableFile(f"{label} is not a text, Markdown, HTML or PDF file.")
    suffix = PurePath(name).suffix.lower()
    if kind == "html" or suffix in _HTML_SUFFIXES:
        return ReadDocument("html", 1, _html_sections(text))
    if suffix in _MARKDOWN_SUFFIXES:
        return ReadDocument("markdown", 1, _markdown_sections(text))
    return ReadDocument("text", 1, (Section(None, "", _tidy(text)),))


def _classify(data: bytes) -> tuple[str, str | None]:
    """The kind, and for html and text the decoded text."""
    if not data:
        return "empty", None
    header = data.find(b"%PDF-", 0, 1029)
    if header >= 0 and not data[:header].replace(_UTF8_BOM, b"").strip():
        return "pdf", None
    for magic, kind in _IMAGE_MAGIC.items():
        if data.startswith(magic):
            return kind, None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", None
    text = _decode(data)
    if text is None:
        return "binary", None
    if not text.strip():
        return "empty", None
    start = text[:8192]
    if _HTML_START.match(start) or _HTML_TAGS.search(start, 0, 2048):
        return "html", text
    return "text", text


def _decode(data: bytes) -> str | None:
    """UTF-8 (with or without a BOM), or UTF-16 with a BOM; None for anything that is not text."""
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if "\x00" in text or len(_CONTROL.findall(text)) * 100 > len(text):
        return None
    return text


def _tidy(text: str) -> str:
    """Runs of spaces collapsed, lines trimmed, at most one blank line between paragraphs."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --- PDF ---

def _read_pdf(data: bytes, label: str, max_pages: int) -> ReadDocument:
    cannot_read = UnreadableFile(f"{label} is a PDF that cannot be read (it may be damaged).")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _decrypts(reader):
            raise UnreadableFile(f"{label} is password-protected: remove the password and upload it again.")
        # The declared /Count is cheap; walking a huge page tree to count it exactly is not.
        tree = reader.root_object["/Pages"].get_object()
        declared = tree.get("/Count") if isinstance(tree, DictionaryObject) else None
        count = declared if isinstance(declared, int) and declared > max_pages else len(reader.pages)
    except UnreadableFile:
        raise
    except Exception:  # pypdf raises many kinds of errors on damaged files
        raise cannot_read from None
    if count > max_pages:
        raise UnreadableFile(f"{label} has {count:,} pages; the limit is {max_pages:,}.")
    if count == 0:
        raise cannot_read
    headings = _page_headings(reader, count)
    sections, failed = [], 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = _tidy(page.extract_text())
        except Exception:  # one bad page should not lose the others
            text, failed = "", failed + 1
        sections.append(Section(number, headings[number - 1], text))
    if not any(section.text for section in sections):
        if failed:
            raise cannot_read
        raise UnreadableFile(f"{label} has no text to read (a scanned PDF?).")
    return ReadDocument("pdf", count, tuple(sections))


def _decrypts(reader: PdfReader) -> bool:
    """Whether the empty password opens it, as it does for PDFs that only have an owner password."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # an encryption pypdf cannot handle is as closed as a password
        return False


def _page_headings(reader: PdfReader, count: int) -> list[str]:
    """For each page, the title of the last outline item starting on or before it ("" when none)."""
    starts: list[tuple[int, str]] = []
    try:
        pending: list[object] = list(reversed(reader.outline))  # a stack, popped in document order
        while pending:
            item = pending.pop()
            if isinstance(item, list):
                pending.extend(reversed(item))
            elif isinstance(item, Destination):
                number = reader.get_destination_page_number(item)
                title = " ".join(str(item.title or "").split())
                if number is not None and 0 <= number < count and title:
                    starts.append((number, title))
    except Exception:  # the outline is a nicety: a broken one means no headings
        return [""] * count
    starts.sort(key=lambda start: start[0])
    headings, current, index = [], "", 0
    for number in range(count):
        while index < len(starts) and starts[index][0] <= number:
            current, index = starts[index][1], index + 1
        headings.append(current)
    return headings


# --- Markdown ---

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")


def _markdown_sections(text: str) -> tuple[Section, ...]:
    sections: list[Section] = []
    heading, fence = "", ""
    lines: list[str] = []
    for line in text.splitlines():
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
        elif opening := _FENCE.match(line):
            fence = opening.group(1)
        elif atx := _ATX.match(line):
            sections.append(Section(None, heading, _tidy("\n".join(lines))))
            heading, lines = _tidy(atx.group(2) or ""), []
            continue
        lines.append(line)
    sections.append(Section(None, heading, _tidy("\n".join(lines))))
    return _without_empty_preamble(sections)


def _without_empty_preamble(sections: list[Section]) -> tuple[Section, ...]:
    if len(sections) > 1 and not sections[0].heading and not sections[0].text:
        sections = sections[1:]
    return tuple(sections)


# --- HTML ---

_SKIPPED = {"script", "style", "noscript", "template"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_PARAGRAPHS = {"p", "blockquote", "pre", "table", "ul", "ol", "dl", "section", "article", "aside",
               "header", "footer", "nav", "main", "figure", "form", "fieldset", "hr", "body"}
_LINES = {"br", "div", "li", "tr", "dt", "dd", "figcaption", "caption", "address", "summary", "details"}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.heading = ""
        self.parts: list[str] = []
        self.heading_parts: list[str] | None = None  # not None inside h1-h6
        self.skipping = 0
        self.pending_break = ""  # written before the next text, so breaks of nested blocks do not pile up

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _HEADINGS and not self.skipping:
            self.flush()
            self.heading_parts = []
        else:
            self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _HEADINGS and self.heading_parts is not None:
            self.end_heading()
        elif tag != "br":  # browsers read </br> as <br>, which comes here as a start tag
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.heading_parts is not None:
            self.heading_parts.append(data)
        elif data.strip():
            self.parts.append(self.pending_break + re.sub(r"\s+", " ", data))
            self.pending_break = ""
        elif self.parts and not self.pending_break:
            self.parts.append(" ")

    def _break(self, tag: str) -> None:
        if self.skipping or self.heading_parts is not None:
            return
        if tag in _PARAGRAPHS:
            self.pending_break = "\n\n"
        elif tag in _LINES and self.pending_break != "\n\n":
            self.pending_break = "\n"
        elif tag in ("td", "th") and not self.pending_break:
            self.pending_break = " "

    def end_heading(self) -> None:
        if self.heading_parts is not None:
            self.heading = " ".join("".join(self.heading_parts).split())
            self.heading_parts = None

    def flush(self) -> None:
        self.sections.append(Section(None, self.heading, _tidy("".join(self.parts))))
        self.parts, self.pending_break = [], ""


def _html_sections(text: str) -> tuple[Section, ...]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser.end_heading()  # an unclosed heading still names what follows it
    parser.flush()
    return _without_empty_preamble(parser.sections)
