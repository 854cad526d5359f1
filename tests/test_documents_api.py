"""The documents API end to end: add, list, search, read, remove, per owner, through a real app."""

from __future__ import annotations

import base64
import html
import secrets
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from gradio.utils import get_upload_folder
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from assistant.documents.library import safe_name
from tests.conftest import FAKE_MODEL, RunningApp, start_app
from tests.documents_factory import corrupt_pdf, encrypted_pdf, image_only_pdf, many_pages_pdf, pdf_bytes

USERS = ("ann", "bob", "cy", "dee", "eve", "flo")
MARKDOWN = ("# Garden notes\n\nSome words about soil.\n\n"
            "## Watering\n\nThe marigoldix needs water every morning.\n")
PDF_PAGES = ["Page one is about rivers.", "Page two holds the quokkaberry recipe.",
             "Page three is about mountains."]


def env(data_dir: Path) -> dict[str, str]:
    return {"ASSISTANT_MODEL": FAKE_MODEL, "ASSISTANT_DATA_DIR": str(data_dir),
            "ASSISTANT_AUTH": ",".join(f"{u}:{u}-pw" for u in USERS),
            # 2 MB, not 1: many_pages_pdf(10_000) is itself 1.03 MB and must reach the page check.
            "ASSISTANT_MAX_DOCUMENT_MB": "2", "ASSISTANT_MAX_DOCUMENT_PAGES": "50",
            "ASSISTANT_MAX_DOCUMENTS": "5"}


def write(folder: Path, name: str, data: bytes | str) -> str:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def add(client: Any, path: str) -> dict[str, Any]:
    return client.predict(handle_file(path), "", api_name="/add_document")


def search(client: Any, query: str, k: int = 5) -> list[dict[str, Any]]:
    return client.predict(query, k, "", api_name="/search_documents")


def listed(client: Any) -> list[dict[str, Any]]:
    return client.predict("", api_name="/list_documents")


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents-data")


@pytest.fixture(scope="module")
def app(fake_server, data_dir: Path) -> Iterator[RunningApp]:
    running = start_app({"OPENAI_BASE_URL": fake_server.base_url, **env(data_dir)})
    yield running
    running.close()


@pytest.fixture(scope="module")
def user(app: RunningApp):
    clients: dict[str, Any] = {}

    def login(name: str) -> Any:
        if name not in clients:
            clients[name] = app.client(auth=(name, f"{name}-pw"))
        return clients[name]
    return login


@pytest.fixture(scope="module")
def ann_docs(user, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("ann-files")
    ann = user("ann")
    return (add(ann, write(folder, "garden.md", MARKDOWN)),
            add(ann, write(folder, "recipes.pdf", pdf_bytes(PDF_PAGES))))


def test_added_documents_are_listed_and_searched_with_page_and_heading(user, ann_docs):
    md, pdf = ann_docs
    ann = user("ann")
    assert (md["name"], md["kind"], md["pages"]) == ("garden.md", "markdown", 1)
    assert (pdf["name"], pdf["kind"], pdf["pages"]) == ("recipes.pdf", "pdf", 3)
    assert md["passages"] >= 1 and pdf["passages"] >= 1
    assert [(d["id"], d["name"], d["pages"]) for d in listed(ann)] == \
        [(md["id"], "garden.md", 1), (pdf["id"], "recipes.pdf", 3)]

    [top, *_] = search(ann, "quokkaberry")
    assert (top["document_id"], top["name"], top["page"]) == (pdf["id"], "recipes.pdf", 2)
    assert "quokkaberry recipe" in top["text"]
    [top, *_] = search(ann, "marigoldix")
    assert (top["document_id"], top["heading"], top["page"]) == (md["id"], "Watering", None)
    assert "marigoldix needs water" in top["text"]


def test_another_owner_can_neither_see_nor_remove_nor_read_them(user, ann_docs):
    md, pdf = ann_docs
    ann, bob = user("ann"), user("bob")
    [passage, *_] = search(ann, "quokkaberry")

    assert listed(bob) == []
    assert search(bob, "quokkaberry") == []
    assert bob.predict(pdf["id"], "", api_name="/remove_document") is False
    with pytest.raises(AppError) as raised:
        bob.predict(passage["passage_id"], "", api_name="/read_passage")
    assert "No such passage" in str(raised.value) and "quokkaberry" not in str(raised.value)
    assert [d["id"] for d in listed(ann)] == [md["id"], pdf["id"]]
    read = ann.predict(passage["passage_id"], "", api_name="/read_passage")
    assert "quokkaberry" in read["text"] and any("quokkaberry" in c for c in read["context"])


def test_removing_a_document_erases_its_text_and_file(user, data_dir, tmp_path):
    cy = user("cy")
    doc = add(cy, write(tmp_path, "secret.md", "# Private\n\nThe code word is zebracorn8271.\n"))
    [stored] = [p for p in files_under(data_dir / "documents") if p.name.startswith(doc["id"])]
    assert search(cy, "zebracorn8271")

    assert cy.predict(doc["id"], "", api_name="/remove_document") is True
    assert not stored.exists()
    assert search(cy, "zebracorn8271") == [] and listed(cy) == []
    database = [data_dir / "assistant.sqlite3", data_dir / "assistant.sqlite3-wal"]
    deadline = time.monotonic() + 5  # a checkpoint held up by a reader is retried after 1 s
    while any(b"zebracorn8271" in p.read_bytes() for p in database if p.exists()) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p.name for p in files_under(data_dir) if b"zebracorn8271" in p.read_bytes()] == []



def test_removing_a_document_leaves_no_uploaded_copy_behind(user, tmp_path):
    word = f"yakmoth{secrets.token_hex(4)}"
    doc = add(user("cy"), write(tmp_path, "gone.md", f"# Gone\n\nThe word is {word}.\n"))
    assert user("cy").predict(doc["id"], "", api_name="/remove_document") is True
    uploads = Path(get_upload_folder()).rglob("gone.md")
    copies = [p for p in uploads if word.encode() in p.read_bytes()]
    assert copies == []

@pytest.mark.parametrize("name, data, words", [
    ("notes.txt", bytes(range(256)) * 10, ["notes.txt", "not a text, Markdown, HTML or PDF"]),
    ("empty.md", b"", ["empty.md", "empty"]),
    ("broken.pdf", corrupt_pdf(), ["broken.pdf", "cannot be read", "damaged"]),
    ("locked.pdf", encrypted_pdf("hidden"), ["locked.pdf", "password-protected"]),
    ("scan.pdf", image_only_pdf(), ["scan.pdf", "no text", "scanned"]),
    ("big.txt", b"word " * 500_000, ["big.txt", "2.5 MB", "limit is 2 MB"]),
    ("huge.pdf", many_pages_pdf(10_000), ["huge.pdf", "10,000 pages", "limit is 50"]),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), ["photo.png", "is an image"]),
], ids=["binary-txt", "empty", "corrupt-pdf", "encrypted-pdf", "image-only-pdf", "too-big",
        "too-many-pages", "png"])
def test_a_bad_file_is_refused_clearly_and_a_good_one_still_adds(user, tmp_path, name, data, words):
    dee = user("dee")
    with pytest.raises(AppError) as raised:
        add(dee, write(tmp_path, name, data))
    message = str(raised.value)
    assert all(w in message for w in words), message
    assert "Traceback" not in message
    good = add(dee, write(tmp_path, "fine.txt", f"Fine text after {name}."))
    assert good["kind"] == "text"
    assert dee.predict(good["id"], "", api_name="/remove_document") is True
    assert listed(dee) == []


def test_file_names_cannot_leave_the_documents_folder(user, data_dir, tmp_path):
    for name in ("../../etc/passwd", "..\\x.md", "..%2F..%2Fevil.md", "/abs/..", ".."):
        cleaned = safe_name(name)
        assert cleaned and "/" not in cleaned and "\\" not in cleaned, cleaned
        assert not cleaned.startswith("."), cleaned
    assert safe_name("../../etc/passwd") == "passwd" and safe_name("..\\x.md") == "x.md"

    doc = add(user("flo"), write(tmp_path, "..%2F..%2Fevil.md", "# Evil\n\nNothing here.\n"))
    assert "/" not in doc["name"] and not doc["name"].startswith(".")
    stored = files_under(data_dir / "documents")
    assert stored and all(p.resolve().is_relative_to(data_dir.resolve()) for p in stored)
    assert any(p.name == f"{doc['id']}-{doc['name']}" for p in stored)


def test_the_sixth_document_of_an_owner_is_refused(user, tmp_path):
    eve = user("eve")
    ids = [add(eve, write(tmp_path, f"n{i}.txt", f"Note number {i}."))["id"] for i in range(5)]
    with pytest.raises(AppError) as raised:
        add(eve, write(tmp_path, "n6.txt", "One too many."))
    assert "5 documents" in str(raised.value) and "Remove one" in str(raised.value)
    assert [d["id"] for d in listed(eve)] == ids
    assert user("bob").predict("", api_name="/list_documents") == []  # the limit is per owner


def test_the_same_file_added_twice_is_one_document(user, tmp_path):
    dee = user("dee")
    text = f"# Twice\n\nThe word is owlgrass{secrets.token_hex(4)}.\n"
    first = add(dee, write(tmp_path, "twice.md", text))
    again = add(dee, write(tmp_path, "renamed.md", text))
    changed = add(dee, write(tmp_path, "twice.md", text + "One more line.\n"))
    assert again["id"] == first["id"] and changed["id"] != first["id"]
    assert [d["id"] for d in listed(dee)] == [first["id"], changed["id"]]
    assert add(user("flo"), write(tmp_path, "twice.md", text))["id"] != first["id"]


def test_documents_and_passages_survive_a_restart(fake_server, tmp_path):
    first = start_app({"OPENAI_BASE_URL": fake_server.base_url, **env(tmp_path)})
    try:
        doc = add(first.client(auth=("ann", "ann-pw")),
                  write(tmp_path, "keep.pdf", pdf_bytes(["Intro.", "The wombatrix lives here."])))
    finally:
        first.close()
    second = start_app({"OPENAI_BASE_URL": fake_server.base_url, **env(tmp_path)})
    try:
        ann = second.client(auth=("ann", "ann-pw"))
        assert [(d["id"], d["pages"]) for d in listed(ann)] == [(doc["id"], 2)]
        [top, *_] = search(ann, "wombatrix")
    finally:
        second.close()
    assert (top["document_id"], top["page"]) == (doc["id"], 2)


def test_a_source_link_opens_only_its_own_passage(app, user, ann_docs):
    [passage, *_] = search(user("ann"), "quokkaberry")
    url = app.app.links.url("user:ann", passage["passage_id"])
    assert not url.startswith(("/", "http"))

    page = httpx.get(app.url + url)
    assert page.status_code == 200
    assert f"<mark>{html.escape(passage['text'])}</mark>" in page.text

    signature = url.rsplit("s=", 1)[1]
    forged = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    bob = base64.urlsafe_b64encode(b"user:bob").decode().rstrip("=")
    ann = url.split("o=", 1)[1].split("&", 1)[0]
    not_ascii = url.replace(signature, "é" + signature[1:])
    for bad in (forged, url.replace(f"o={ann}", f"o={bob}"), not_ascii):
        response = httpx.get(app.url + bad)
        assert response.status_code == 404 and "quokkaberry" not in response.text
