"""Real files for the documents tests and benchmark: genuine PDFs, written object by object."""

from __future__ import annotations

import io
import textwrap

from pypdf import PdfReader, PdfWriter

_LINE_CHARS = 90
_PAGE_DICT = b"/Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"


def _assemble(objects: list[bytes]) -> bytes:
    """A PDF whose object i+1 is objects[i] and whose catalog is object 1, with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(content), extra, content)


def _literal(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1", errors="replace") + b")"


def _page_content(text: str) -> bytes:
    ops = [b"BT /F1 11 Tf 14 TL 72 760 Td"]
    for paragraph in text.split("\n"):
        lines = textwrap.wrap(paragraph, _LINE_CHARS) or [""]
        ops.extend(_literal(line) + b" Tj T*" for line in lines)
    ops.append(b"ET")
    return b"\n".join(ops)


def pdf_bytes(pages: list[str], *, outline: list[tuple[str, int]] | None = None) -> bytes:
    """A PDF with one page per string, in Helvetica; outline items are (title, 1-based page number)."""
    first_page = 4  # objects: 1 catalog, 2 page tree, 3 font, then page/content pairs, then the outline
    page_refs = [first_page + 2 * i for i in range(len(pages))]
    objects = [b"", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    for ref, text in zip(page_refs, pages):
        objects.append(b"<< %s /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (_PAGE_DICT, ref + 1))
        objects.append(_stream(_page_content(text)))
    kids = b" ".join(b"%d 0 R" % ref for ref in page_refs)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    if outline:
        root = len(objects) + 1
        items = [root + 1 + i for i in range(len(outline))]
        objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Outlines %d 0 R /PageMode /UseOutlines >>" % root
        objects.append(b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>"
                       % (items[0], items[-1], len(items)))
        for i, (title, page) in enumerate(outline):
            links = b"".join([
                b" /Prev %d 0 R" % items[i - 1] if i > 0 else b"",
                b" /Next %d 0 R" % items[i + 1] if i + 1 < len(items) else b"",
            ])
            objects.append(b"<< /Title %s /Parent %d 0 R%s /Dest [%d 0 R /Fit] >>"
                           % (_literal(title), root, links, page_refs[page - 1]))
    return _assemble(objects)


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted_pdf(text: str, *, user_password: str = "secret") -> bytes:
    """A one-page PDF encrypted with pypdf; user_password="" gives a PDF with only an owner password."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes([text]))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    return _written(writer)


def image_only_pdf(pages: int = 2) -> bytes:
    """A scanned-looking PDF: every page draws a small grey image and has no text."""
    pixels = bytes((x * 16 + y) % 256 for y in range(16) for x in range(16))
    image = _stream(pixels, b"/Type /XObject /Subtype /Image /Width 16 /Height 16 "
                            b"/ColorSpace /DeviceGray /BitsPerComponent 8 ")
    drawing = _stream(b"q 468 0 0 648 72 72 cm /Im1 Do Q")
    page = b"<< %s /Resources << /XObject << /Im1 3 0 R >> >> /Contents 4 0 R >>" % _PAGE_DICT
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    return _assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        image,
        drawing,
        *([page] * pages),
    ])


def blank_pages_pdf(pages: int = 2) -> bytes:
    """Pages with nothing on them, written by pypdf."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    return _written(writer)


def many_pages_pdf(n: int) -> bytes:
    """n blank pages in one flat page tree; 10,000 pages build in milliseconds."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(n))
    return _assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n),
        *([b"<< %s >>" % _PAGE_DICT] * n),
    ])


def corrupt_pdf() -> bytes:
    """A PDF header followed by bytes that are no PDF at all."""
    return b"%PDF-1.7\n" + bytes((i * 97 + 13) % 256 for i in range(4096))
