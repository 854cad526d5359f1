"""Per-user API keys: kept as digests on both databases, checked through a short cache,
made and revoked from the command line and from the sidebar."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from assistant.identity import api_keys as api_keys_module
from assistant.identity.api_keys import KEY_PREFIX, ApiKeys
from assistant.storage.sqlite.store import SQLiteStore
from assistant.web.api_keys_panel import SHOWN_ONCE
from fakes.fake_openai import FakeOpenAI
from tests.browser import open_app
from tests.conftest import FAKE_MODEL, Clock, RunningApp, StoreLocation, start_app

REPO = Path(__file__).resolve().parents[1]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# The store, on SQLite and PostgreSQL ----------------------------------------------------------

def test_keys_are_listed_newest_first_and_only_their_owner_revokes_them(any_store):
    any_store.add_api_key("user:ann", "key_old", "laptop", digest("a1"))
    any_store.add_api_key("user:ann", "key_new", "  ci\n job ", digest("a2"))
    any_store.add_api_key("user:bob", "key_bob", "", digest("b1"))

    assert [(k.id, k.name) for k in any_store.list_api_keys("user:ann")] == [
        ("key_new", "ci job"), ("key_old", "laptop")]
    assert any_store.revoke_api_key("user:ann", "key_bob") is False  # as if it were missing
    assert any_store.api_key_owner(digest("b1")) == "user:bob"
    assert any_store.revoke_api_key("user:ann", "key_old") is True
    assert any_store.revoke_api_key("user:ann", "key_old") is False
    assert any_store.api_key_owner(digest("a1")) is None
    assert any_store.api_key_owner(digest("a2")) == "user:ann"
    assert [k.id for k in any_store.list_api_keys("user:ann")] == ["key_new"]


def test_deleting_an_owner_deletes_their_keys_and_no_one_elses(any_store):
    any_store.add_api_key("user:ann", "key_ann", "", digest("a"))
    any_store.add_api_key("user:bob", "key_bob", "", digest("b"))

    assert any_store.delete_owner("user:ann") == 1
    assert any_store.list_api_keys("user:ann") == [] and any_store.api_key_owner(digest("a")) is None
    assert any_store.api_key_owner(digest("b")) == "user:bob"


def stored_rows(location: StoreLocation) -> list[tuple[Any, ...]]:
    sql = "SELECT id, owner, name, digest, created FROM api_keys"
    if location.url:
        import psycopg
        with psycopg.connect(location.url) as conn:
            return list(conn.execute(sql).fetchall())
    with sqlite3.connect(location.data_dir / "assistant.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def test_only_the_keys_digest_is_stored(any_store, store_location):
    key, record = ApiKeys(any_store).create("user:ann", "laptop")
    any_store.flush()

    [row] = stored_rows(store_location)
    assert key.startswith(KEY_PREFIX) and record.id.startswith("key_")
    assert row[:4] == (record.id, "user:ann", "laptop", digest(key))
    assert all(key not in str(value) for value in row)
    if store_location.url is None:  # nor anywhere in the file and its journal
        files = b"".join(p.read_bytes() for p in store_location.data_dir.glob("*.sqlite3*"))
        assert digest(key).encode() in files and key.encode() not in files


# The cache ----------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.in_directory(tmp_path) as opened:
        yield opened


def test_a_key_revoked_elsewhere_works_here_until_the_cache_runs_out(store):
    clock = Clock(1_000.0)
    here, elsewhere = ApiKeys(store, clock, cache_seconds=5), ApiKeys(store, clock, cache_seconds=5)
    key, record = here.create("user:ann", "laptop")
    assert elsewhere.owner_of(key) == "user:ann"

    assert here.revoke("user:ann", record.id) is True
    assert here.owner_of(key) is None  # the process that revoked it forgets it at once
    clock.now += 4.9
    assert elsewhere.owner_of(key) == "user:ann"  # cached: no database read
    clock.now += 0.2
    assert elsewhere.owner_of(key) is None


def test_a_key_not_known_yet_is_known_once_a_miss_runs_out(store):
    clock = Clock(1_000.0)
    keys = ApiKeys(store, clock, cache_seconds=5)
    made_elsewhere = KEY_PREFIX + "made-on-another-replica"
    assert keys.owner_of(made_elsewhere) is None
    store.add_api_key("user:ann", "key_x", "", digest(made_elsewhere))
    assert keys.owner_of(made_elsewhere) is None  # the miss is cached too, briefly
    clock.now += 5
    assert keys.owner_of(made_elsewhere) == "user:ann"


def test_the_cache_is_bounded(store, monkeypatch):
    monkeypatch.setattr(api_keys_module, "MAX_CACHED", 2)
    here, elsewhere = ApiKeys(store, Clock(0.0)), ApiKeys(store, Clock(0.0))
    made = [here.create("user:ann", f"key {n}") for n in range(3)]
    for key, _ in made:
        assert elsewhere.owner_of(key) == "user:ann"
    first_key, first = made[0]
    here.revoke("user:ann", first.id)
    assert elsewhere.owner_of(first_key) is None  # pushed out of the cache: read again
    assert elsewhere.owner_of(made[2][0]) == "user:ann"


def test_anything_but_a_live_key_has_no_owner_and_names_are_cleaned(store):
    keys = ApiKeys(store)
    key, record = keys.create("user:ann", "  my\tlaptop\x00 " + "x" * 100)
    assert record.name.startswith("my laptop\ufffd x") and len(record.name) == 60
    assert [k.name for k in keys.list("user:ann")] == [record.name]
    assert keys.owner_of(key) == "user:ann"
    for wrong in ("", key[len(KEY_PREFIX):], key + "x", key.upper(), KEY_PREFIX + "x" * 500):
        assert keys.owner_of(wrong) is None
    assert keys.revoke("user:bob", record.id) is False and keys.owner_of(key) == "user:ann"


# The command --------------------------------------------------------------------------------

def command(location: StoreLocation, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ASSISTANT_DATA_DIR": str(location.data_dir),
           "ASSISTANT_DATABASE_URL": location.url or ""}
    return subprocess.run([sys.executable, "-m", "assistant.api_keys", *args], env=env,
                          cwd=location.data_dir, capture_output=True, text=True, timeout=120)


def test_the_command_adds_lists_and_revokes_keys(store_location):
    store = store_location.open()  # the store the app made
    try:
        added = command(store_location, "add", "ann", "--label", "deploy script")
        assert added.returncode == 0, added.stderr
        key = added.stdout.strip()
        assert key.startswith(KEY_PREFIX) and "\n" not in key  # the key alone, for scripts
        assert "not shown again" in added.stderr
        assert ApiKeys(store).owner_of(key) == "user:ann"
        hf = command(store_location, "add", "hf:alice")
        assert ApiKeys(store).owner_of(hf.stdout.strip()) == "hf:alice"

        listed = command(store_location, "list", "ann")
        [line] = listed.stdout.splitlines()
        key_id, label, _created = line.split("\t")
        assert key_id.startswith("key_") and label == "deploy script"
        assert key not in listed.stdout + listed.stderr

        wrong = command(store_location, "revoke", "bob", key_id)  # not bob's key
        assert wrong.returncode == 1 and len(wrong.stderr.splitlines()) == 1
        assert "Traceback" not in wrong.stderr and ApiKeys(store).owner_of(key) == "user:ann"
        revoked = command(store_location, "revoke", "ann", key_id)
        assert revoked.returncode == 0, revoked.stderr
        assert ApiKeys(store).owner_of(key) is None
        assert command(store_location, "list", "ann").stdout == ""
    finally:
        store.close()


def test_the_command_refuses_bad_names_and_a_missing_database_in_one_line(tmp_path):
    missing = command(StoreLocation(None, tmp_path), "add", "ann")
    assert missing.returncode == 1 and "no database" in missing.stderr
    SQLiteStore.in_directory(tmp_path).close()
    bad = command(StoreLocation(None, tmp_path), "add", "two words")
    assert bad.returncode == 1 and bad.stdout == ""
    for answer in (missing, bad):
        assert len(answer.stderr.splitlines()) == 1 and "Traceback" not in answer.stderr


# The sidebar --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("api-keys"))})
    yield app
    app.close()


def signed_in_page(browser: Any, app: RunningApp, user: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.request.post(app.url + "login", form={"username": user, "password": f"{user}-pw"})
    open_app(page, app.url)
    page.get_by_role("button", name="API keys").click()
    return page


def test_a_signed_in_user_makes_a_key_sees_it_once_and_revokes_it(browser, keys_app):
    page = signed_in_page(browser, keys_app, "ann")
    expect(page.locator("#api-keys-list")).to_contain_text("No keys yet", timeout=20_000)
    page.locator("#api-key-name input").fill("my laptop")
    page.locator("#api-key-create").click()

    shown = page.locator("#api-key-new input")
    expect(shown).to_have_value(re.compile("^" + re.escape(KEY_PREFIX)), timeout=20_000)
    expect(page.get_by_text(SHOWN_ONCE)).to_be_visible()
    key = shown.input_value()
    assert key.startswith(KEY_PREFIX)
    [record] = keys_app.app.api_keys.list("user:ann")
    assert keys_app.app.api_keys.owner_of(key) == "user:ann"
    listing = page.locator("#api-keys-list")
    expect(listing).to_contain_text(record.id)
    expect(listing).to_contain_text("my laptop")
    assert key not in listing.inner_text()

    page.reload()  # shown once: a new page never holds the key
    open_app(page, keys_app.url)
    page.get_by_role("button", name="API keys").click()
    expect(page.locator("#api-keys-list")).to_contain_text(record.id, timeout=20_000)
    assert key not in page.content()

    bob = signed_in_page(browser, keys_app, "bob")  # another user sees none of ann's keys
    expect(bob.locator("#api-keys-list")).to_contain_text("No keys yet", timeout=20_000)
    assert record.id not in bob.content()
    bob.context.close()

    page.locator("#api-key-chosen input").click()
    page.get_by_role("option", name=f"my laptop ({record.id})").click()
    page.locator("#api-key-revoke").click()
    expect(page.locator("#api-keys-list")).to_contain_text("No keys yet", timeout=20_000)
    assert keys_app.app.api_keys.owner_of(key) is None
    assert keys_app.app.api_keys.list("user:ann") == []
    page.context.close()


def test_an_anonymous_visitor_is_told_keys_need_signing_in(page, running_app):
    open_app(page, running_app.url)
    page.get_by_role("button", name="API keys").click()
    expect(page.get_by_text("API keys are for signed-in users")).to_be_visible(timeout=20_000)
    expect(page.locator("#api-key-create")).to_be_hidden()
