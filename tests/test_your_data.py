"""Your data on request: one archive of everything, deletion of everything, and retention."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image as PILImage

from assistant.storage.retention import DAY, Retention
from assistant.storage.sqlite.store import SQLiteStore
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.conftest import FAKE_MODEL, RunningApp, start_app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("your-data")


@pytest.fixture(scope="module")
def data_app(fake_server: FakeOpenAI, data_dir: Path) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw", "ASSISTANT_DATA_DIR": str(data_dir)})
    yield app
    app.close()


def chat(client: Any, message: Any) -> None:
    job = client.submit(message, FAKE_MODEL, 0.7, "", 10, 1024, False, "chat_completions", [],
                        False, api_name="/chat")
    list(job)


def fill(app: RunningApp, fake: FakeOpenAI, client: Any, owner: str, folder: Path) -> str:
    """A chat with an image, a memory and a document, all holding one unique word."""
    word = f"zq{secrets.token_hex(6)}"
    picture = folder / f"{word}.png"
    PILImage.new("RGB", (40, 30), (10, 200, 30)).save(picture)
    notes = folder / f"{word}.md"
    notes.write_text(f"# Notes\n\nThe secret word is {word} in the notes.\n")
    client.predict(handle_file(str(notes)), "", api_name="/add_document")
    fake.enqueue(Scenario(text=f"Reply about {word}."))
    chat(client, {"text": f"Tell me about {word}", "files": [handle_file(str(picture))]})
    app.app.store.add_memory(owner, f"The user likes {word}.")
    app.app.store.flush()
    return word


def database_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.glob("*.sqlite3*"))


def test_the_archive_holds_every_chat_memory_and_document(data_app, fake, tmp_path):
    ann = data_app.client(auth=("ann", "ann-pw"))
    word = fill(data_app, fake, ann, "user:ann", tmp_path)
    archive = zipfile.ZipFile(ann.predict("", api_name="/download_my_data"))
    names = archive.namelist()
    texts = {n: archive.read(n).decode() for n in names if n.endswith((".json", ".md"))}

    chats = [n for n in names if n.startswith("conversations/") and n.endswith(".json")]
    assert chats and all(n[:-5] + ".md" in names for n in chats)
    exported = [json.loads(texts[n]) for n in chats]
    assert any(word in json.dumps(e) and e["messages"][0]["images"] for e in exported)
    assert word in texts["memories.json"]
    [listed] = [d for d in json.loads(texts["documents.json"]) if word in d["name"]]
    assert word in archive.read(listed["file"]).decode()


def test_a_signed_in_client_needs_no_token_to_add_a_document_or_download_its_data(data_app,
                                                                               tmp_path):
    ann = data_app.client(auth=("ann", "ann-pw"))
    word = f"zq{secrets.token_hex(6)}"
    notes = tmp_path / f"{word}.md"
    notes.write_text(f"# Notes\n\nThe word is {word}.\n")

    key, _ = data_app.app.api_keys.create("user:ann", "laptop")

    added = ann.predict(handle_file(str(notes)), api_name="/add_document")
    archive = zipfile.ZipFile(ann.predict(api_name="/download_my_data"))
    assert added["name"] == f"{word}.md"
    assert word in archive.read(f"documents/{added['id']}-{word}.md").decode()
    unpacked = b"".join(archive.read(name) for name in archive.namelist())
    for secret in (key, hashlib.sha256(key.encode()).hexdigest()):  # no key goes in an archive
        assert secret.encode() not in unpacked


def test_no_endpoint_asks_a_signed_in_client_for_a_token(data_app):
    endpoints = data_app.client(auth=("ann", "ann-pw")).view_api(
        print_info=False, return_format="dict")["named_endpoints"]
    asking = [name for name, endpoint in endpoints.items() for parameter in endpoint["parameters"]
              if parameter["parameter_name"] == "token" and not parameter["parameter_has_default"]]
    assert "/download_my_data" in endpoints and asking == []


def test_delete_all_my_data_leaves_none_of_my_bytes_and_keeps_others(data_app, fake, data_dir,
                                                                     tmp_path):
    ann, bob = data_app.client(auth=("ann", "ann-pw")), data_app.client(auth=("bob", "bob-pw"))
    mine = fill(data_app, fake, ann, "user:ann", tmp_path)
    theirs = fill(data_app, fake, bob, "user:bob", tmp_path)
    data_app.app.api_keys.create("user:ann", mine)
    data_app.app.api_keys.create("user:bob", theirs)
    with pytest.raises(AppError, match="Nothing was deleted"):
        ann.predict("yes", "", api_name="/delete_my_data")
    assert mine.encode() in database_bytes(data_dir)

    answer = ann.predict("delete everything", "", api_name="/delete_my_data")
    data_app.app.store.flush()
    stored = database_bytes(data_dir)
    files = b"".join(p.read_bytes() for p in (data_dir / "documents").rglob("*") if p.is_file())

    assert answer["deleted"] is True and answer["removed"] >= 3
    assert mine.encode() not in stored and mine.encode() not in files
    assert theirs.encode() in stored and theirs.encode() in files
    store = data_app.app.store
    assert store.list_conversations("user:ann") == [] and store.list_memories("user:ann") == []
    assert store.list_api_keys("user:ann") == [] and store.list_api_keys("user:bob") != []
    assert ann.predict("", api_name="/list_documents") == []
    assert bob.predict("", api_name="/list_documents") != []


def age(path: Path, conversation_id: str, days: float) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE conversations SET updated = ? WHERE id = ?",
                     (time.time() - days * DAY, conversation_id))


def test_retention_deletes_chats_untouched_for_its_days_and_keeps_the_rest(tmp_path):
    with SQLiteStore.in_directory(tmp_path) as store:
        old, recent = store.create_conversation("user:ann", "old"), store.create_conversation(
            "user:ann", "recent")
        store.add_message("user:ann", recent, "user", "still here")
        store.flush()
        age(store.path, old, 40)
        age(store.path, recent, 20)
        now = [time.time()]
        retention = Retention(store, 30, clock=lambda: now[0])

        assert retention.sweep() == 1
        assert [c.id for c in store.list_conversations("user:ann")] == [recent]
        now[0] += 11 * DAY  # the recent one's 30 days are up
        assert retention.sweep() == 1 and store.list_conversations("user:ann") == []


def test_retention_runs_at_startup(fake_server, tmp_path):
    with SQLiteStore.in_directory(tmp_path) as store:
        old, kept = (store.create_conversation("user:ann", t) for t in ("old", "kept"))
        store.flush()
        age(store.path, old, 400)
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_RETENTION_DAYS": "365"})
    try:
        assert app.app.retention.swept.wait(10)
        assert [c.id for c in app.app.store.list_conversations("user:ann")] == [kept]
    finally:
        app.close()


def test_retention_is_off_by_default(fake_server, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        assert app.app.settings.retention_days == 0 and not app.app.retention.swept.is_set()
    finally:
        app.close()


