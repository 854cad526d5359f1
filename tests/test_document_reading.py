"""Reading uploaded files into sections and passages, on real generated files."""

from __future__ import annotations

import pytest

from assistant.documents.passages import Passage, split_passages
from assistant.documents.reading import ReadDocument, Section, UnreadableFile, read_document, sniff
from tests.documents_factory import (
    blank_pages_pdf,
    corrupt_pdf,
    encrypted_pdf,
    image_only_pdf,
    many_pages_pdf,
    pdf_bytes,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(16)
HTML = b"""<!-- saved page -->
<!DOCTYPE html>
<html><head><title>Guide</title><style>p { color: red }</style><script>if (a < b) alert("x")</script></head>
<body>
<p>Before   any
heading.</p>
<h1>Getting &amp; <em>started</em></h1>
<p>First paragraph.</p><p>Second<br>line</p>
<ul><li>one</li><li>two</li></ul>
<noscript>enable scripts</noscript><template><p>never shown</p></template>
<h2>Details</h2>
<div>a &lt; b &eacute;t&eacute;</div>
</body></html>"""
MARKDOWN = """Preamble text.

# Install #
Run   the installer.

```
# not a heading inside a fence
```

## Configure
Edit the file.
#hashtag is not a heading
~~~~
## also not a heading
~~~~
### Last
The end.
"""


def read(data: bytes, name: str = "file.bin", max_pages: int = 100) -> ReadDocument:
    return read_document(data, name, max_pages=max_pages)


def refusal(data: bytes, name: str, max_pages: int = 100) -> str:
    with pytest.raises(UnreadableFile) as raised:
        read(data, name, max_pages)
    return str(raised.value)


# --- sniffing ---

@pytest.mark.parametrize(("data", "kind"), [
    (b"", "empty"),
    (b"%PDF-1.4\n", "pdf"),
    (b"\xef\xbb\xbf \r\n\t%PDF-1.7", "pdf"),
    (b" " * 1000 + b"%PDF-1.7", "pdf"),
    (b" " * 2000 + b"%PDF-1.7", "text"),
    (b"junk%PDF-1.7", "text"),
    (PNG, "png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    (b"GIF89a\x01\x00", "gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
    (b"<!doctype HTML><title>x</title>", "html"),
    (b"\xef\xbb\xbf\n  <!-- a --> <!-- b -->\n<HTML lang=en>", "html"),
    (b"<meta charset=utf-8>\n<body>text</body>", "html"),
    (b"<p>a fragment</p>", "text"),
    (b"plain words, caf\xc3\xa9", "text"),
    ("UTF-16 text, café".encode("utf-16"), "text"),
    (b"text with a \x00 NUL", "binary"),
    (b"caf\xe9 in Latin-1", "binary"),
    (bytes(range(256)) * 4, "binary"),
    (b"\x01\x02\x03\x04 mostly control \x05\x06\x07\x08", "binary"),
    (b"\x1b[1mbold\x1b[0m " + b"x" * 400, "text"),
])
def test_sniff_reads_the_content(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


def test_a_generated_pdf_sniffs_as_pdf() -> None:
    assert sniff(pdf_bytes(["x"])) == "pdf"
    assert sniff(encrypted_pdf("x")) == "pdf"


# --- PDF ---

def test_pdf_pages_come_back_in_order_with_their_text() -> None:
    document = read(pdf_bytes(["The first page (with brackets) and a back\\slash.", "Page two.", "Page three."]))
    assert document.kind == "pdf"
    assert document.pages == 3
    assert [section.page for section in document.sections] == [1, 2, 3]
    assert document.sections[0].text == "The first page (with brackets) and a back\\slash."
    assert [section.text for section in document.sections[1:]] == ["Page two.", "Page three."]
    assert all(section.heading == "" for section in document.sections)


def test_pdf_long_lines_are_wrapped_and_read_back_whole() -> None:
    words = [f"word{i}" for i in range(400)]
    document = read(pdf_bytes([" ".join(words)]))
    assert document.sections[0].text.split() == words


def test_pdf_headings_come_from_the_outline() -> None:
    data = pdf_bytes(["cover", "one", "two", "still two"], outline=[("Chapter 1", 2), ("Chapter 2", 3)])
    headings = [(section.page, section.heading) for section in read(data).sections]
    assert headings == [(1, ""), (2, "Chapter 1"), (3, "Chapter 2"), (4, "Chapter 2")]


def test_a_pdf_named_txt_reads_as_pdf() -> None:
    document = read(pdf_bytes(["Hidden PDF."]), "notes.txt")
    assert (document.kind, document.sections[0].text) == ("pdf", "Hidden PDF.")


def test_a_pdf_with_only_an_owner_password_is_read() -> None:
    document = read(encrypted_pdf("Readable anyway.", user_password=""), "locked.pdf")
    assert document.sections[0].text == "Readable anyway."


def test_a_pdf_at_the_page_limit_is_read() -> None:
    assert read(pdf_bytes(["a", "b", "c"]), max_pages=3).pages == 3


# --- refusals ---

def test_an_empty_file_is_refused() -> None:
    assert refusal(b"", "empty.txt") == "“empty.txt” is empty."
    assert "is empty" in refusal(b"  \n\t\n", "blank.md")


def test_binary_content_named_txt_is_refused() -> None:
    message = refusal(bytes(range(256)) * 8, "data.txt")
    assert message == "“data.txt” is not a text, Markdown, HTML or PDF file."


def test_an_image_is_refused_whatever_its_name() -> None:
    assert refusal(PNG, "picture.md") == "“picture.md” is an image: attach it to a message instead."
    assert "is an image" in refusal(b"\xff\xd8\xff\xe0JFIF", "photo.pdf")


def test_a_corrupt_pdf_is_refused() -> None:
    message = refusal(corrupt_pdf(), "broken.pdf")
    assert message == "“broken.pdf” is a PDF that cannot be read (it may be damaged)."


def test_a_pdf_cut_short_is_refused() -> None:
    data = pdf_bytes(["Some text here."])
    assert "cannot be read" in refusal(data[: len(data) // 3], "cut.pdf")


def test_a_password_protected_pdf_is_refused() -> None:
    assert "“secret.pdf” is password-protected" in refusal(encrypted_pdf("Top secret."), "secret.pdf")


@pytest.mark.parametrize("data", [image_only_pdf(3), blank_pages_pdf(2)], ids=["image-only", "blank"])
def test_a_pdf_without_text_is_refused(data: bytes) -> None:
    assert refusal(data, "scan.pdf") == "“scan.pdf” has no text to read (a scanned PDF?)."


def test_a_10000_page_pdf_is_refused_with_its_page_count() -> None:
    message = refusal(many_pages_pdf(10_000), "huge.pdf", max_pages=500)
    assert message == "“huge.pdf” has 10,000 pages; the limit is 500."


def test_one_page_over_the_limit_is_refused() -> None:
    assert "has 4 pages; the limit is 3" in refusal(pdf_bytes(["a", "b", "c", "d"]), "x.pdf", max_pages=3)


def test_refusals_are_single_sentences_naming_only_the_file() -> None:
    message = refusal(corrupt_pdf(), "/uploads/tmp/report.pdf")
    assert message.startswith("“report.pdf”")
    assert "\n" not in message and "Error" not in message and "/uploads" not in message


# --- Markdown, HTML, text ---

def test_markdown_sections_follow_atx_headings_outside_code_fences() -> None:
    document = read(MARKDOWN.encode(), "README.md")
    assert document.kind == "markdown"
    assert document.pages == 1
    assert [section.heading for section in document.sections] == ["", "Install", "Configure", "Last"]
    preamble, install, configure, last = document.sections
    assert preamble.text == "Preamble text."
    assert install.text.startswith("Run the installer.")
    assert "# not a heading inside a fence" in install.text
    assert "## also not a heading" in configure.text and "#hashtag is not a heading" in configure.text
    assert last.text == "The end."
    assert all(section.page is None for section in document.sections)


def test_markdown_text_named_txt_is_plain_text() -> None:
    document = read(MARKDOWN.encode(), "notes.txt")
    assert document.kind == "text"
    assert len(document.sections) == 1
    assert document.sections[0].heading == ""
    assert "# Install #" in document.sections[0].text


def test_html_named_txt_reads_as_html_with_headings() -> None:
    document = read(HTML, "page.txt")
    assert document.kind == "html"
    assert [section.heading for section in document.sections] == ["", "Getting & started", "Details"]
    preamble, started, details = document.sections
    assert preamble.text == "Guide\n\nBefore any heading."
    assert started.text == "First paragraph.\n\nSecond\nline\n\none\ntwo"
    assert details.text == "a < b été"
    everything = " ".join(section.text for section in document.sections)
    for hidden in ("color", "alert", "enable scripts", "never shown"):
        assert hidden not in everything


def test_html_by_name_reads_as_html() -> None:
    document = read(b"<h3>Only</h3><p>a fragment</p>", "fragment.html")
    assert (document.kind, document.sections) == ("html", (Section(None, "Only", "a fragment"),))


def test_plain_text_is_one_section_with_tidy_whitespace() -> None:
    data = "\ufeffFirst   line\r\n  second\tline  \r\n\r\n\r\n\r\nNext paragraph.".encode()
    assert read(data, "notes.txt") == ReadDocument("text", 1, (Section(None, "", "First line\nsecond line\n\n"
                                                                                 "Next paragraph."),))


def test_utf16_text_with_a_bom_is_decoded() -> None:
    document = read("# Titre\nÉté à Paris.".encode("utf-16"), "notes.md")
    assert document.sections == (Section(None, "Titre", "Été à Paris."),)


# --- passages ---

def section_words(index: int, count: int) -> list[str]:
    """Words that say which section they come from, with a sentence end every 12 words."""
    return [f"s{index}w{j}" + ("." if j % 12 == 11 else "") for j in range(count)]


def test_short_sections_are_one_passage_each_keeping_page_and_heading() -> None:
    document = ReadDocument("pdf", 3, (
        Section(1, "Intro", "Hello there."), Section(2, "Intro", "   \n "), Section(3, "Body", "More."),
    ))
    assert split_passages(document) == [Passage(0, 1, "Intro", "Hello there."), Passage(1, 3, "Body", "More.")]


def test_long_sections_split_within_the_bound_and_never_cross_sections() -> None:
    sections = tuple(Section(i + 1, f"Heading {i}", " ".join(section_words(i, 900))) for i in range(3))
    passages = split_passages(ReadDocument("pdf", 3, sections), target_chars=500, overlap_chars=80)
    assert [passage.ordinal for passage in passages] == list(range(len(passages)))
    for index, section in enumerate(sections):
        own = [passage for passage in passages if passage.page == index + 1]
        assert len(own) > 5
        assert all(passage.heading == section.heading for passage in own)
        assert all(len(passage.text) <= 750 for passage in own)
        words = {word for passage in own for word in passage.text.split()}
        assert words == set(section.text.split())  # nothing lost, nothing from another section


def test_each_passage_starts_with_the_end_of_the_one_before() -> None:
    text = " ".join(section_words(0, 600))
    passages = split_passages(ReadDocument("text", 1, (Section(None, "", text),)), target_chars=400, overlap_chars=60)
    assert len(passages) > 3
    for before, after in zip(passages, passages[1:]):
        carried = after.text.split()[0]
        assert carried in before.text[-60:]
        assert text.index(after.text.split()[0]) < text.index(before.text.split()[-1])


def test_overlap_is_not_carried_into_the_next_section() -> None:
    sections = (Section(1, "", " ".join(section_words(0, 400))), Section(2, "", " ".join(section_words(1, 400))))
    passages = split_passages(ReadDocument("pdf", 2, sections), target_chars=300)
    first_of_second = next(passage for passage in passages if passage.page == 2)
    assert first_of_second.text.startswith("s1w0 ")


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    paragraphs = [" ".join(section_words(i, 36)) for i in range(20)]
    document = ReadDocument("text", 1, (Section(None, "", "\n\n".join(paragraphs)),))
    passages = split_passages(document, target_chars=1000, overlap_chars=0)
    assert len(passages) > 3
    assert all(any(paragraph in passage.text for passage in passages) for paragraph in paragraphs)
    assert all(passage.text.startswith("s") and passage.text.endswith(".") for passage in passages)


def test_a_long_paragraph_splits_at_sentences() -> None:
    text = " ".join(section_words(0, 480))  # one paragraph of 40 sentences
    passages = split_passages(ReadDocument("text", 1, (Section(None, "", text),)), target_chars=300, overlap_chars=0)
    assert len(passages) > 5
    assert all(passage.text.endswith(".") for passage in passages)


def test_a_huge_word_is_cut_to_fit() -> None:
    blob = "A" * 5000
    passages = split_passages(ReadDocument("text", 1, (Section(None, "", f"Start. {blob} End."),)), target_chars=1000)
    assert all(len(passage.text) <= 1500 for passage in passages)
    assert "".join(passage.text for passage in passages).count("A") >= 5000


def test_a_read_pdf_splits_into_passages_that_keep_their_pages() -> None:
    pages = [" ".join(section_words(i, 500)) for i in range(4)]
    document = read(pdf_bytes(pages, outline=[("Start", 1), ("Later", 3)]))
    passages = split_passages(document, target_chars=800)
    assert {passage.page for passage in passages} == {1, 2, 3, 4}
    for passage in passages:
        page = passage.page or 0
        assert all(word.startswith(f"s{page - 1}w") for word in passage.text.split())
        assert passage.heading == ("Start" if page < 3 else "Later")
        assert len(passage.text) <= 1200


def test_a_thousand_pages_of_text_split_into_bounded_passages() -> None:
    sections = tuple(Section(i + 1, "", "\n\n".join(" ".join(section_words(i, 90)) for _ in range(5)))
                     for i in range(1000))
    passages = split_passages(ReadDocument("pdf", 1000, sections))
    assert len({passage.page for passage in passages}) == 1000
    assert max(len(passage.text) for passage in passages) <= 1500
