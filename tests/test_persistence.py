"""Conversations survive restarts and crashes, stay private, and take many writers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from assistant.identity.owners import Sessions, user_owner
from assistant.storage.sqlite.store import SQLiteStore as Store
from fakes.fake_openai import Scenario
from fakes.loopback import free_port
from tests.conftest import FAKE_MODEL, RunningApp, start_app, without_stats

ROOT = Path(__file__).resolve().parent.parent
USERS = "ann:ann-pw,bob:bob-pw"


def auth_app(fake, data_dir: Path) -> RunningApp:
    return start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                      "ASSISTANT_AUTH": USERS, "ASSISTANT_DATA_DIR": str(data_dir)})


@pytest.fixture
def auth_running(fake, tmp_path):
    """The app with login on (users ann and bob), closed after the test."""
    app = auth_app(fake, tmp_path)
    yield app
    app.close()


def test_a_conversation_is_listed_and_continued_after_a_restart(fake, tmp_path):
    first = auth_app(fake, tmp_path)
    try:
        fake.enqueue(Scenario(text="Paris."))
        first.chat(first.client(auth=("ann", "ann-pw")), "Capital of France?")
    finally:
        first.close()

    second = auth_app(fake, tmp_path)
    try:
        ann = second.client(auth=("ann", "ann-pw"))
        [listed] = ann.predict(api_name="/list_conversations")
        assert listed["title"] == "Capital of France?"
        ann.predict(listed["id"], "", api_name="/open_conversation")
        fake.enqueue(Scenario(text="About 2.1 million."))
        _, final = second.chat(ann, "And its population?")

        assert final == "About 2.1 million."
        sent = [m["content"] for m in fake.requests[-1].body["messages"] if m["role"] != "system"]
        assert sent == ["Capital of France?", "Paris.", "And its population?"]
        second.app.store.flush()
        stored = ann.predict(listed["id"], api_name="/export_conversation")
        assert [(m["role"], m["content"]) for m in stored["messages"]] == [
            ("user", "Capital of France?"), ("assistant", "Paris."),
            ("user", "And its population?"), ("assistant", "About 2.1 million.")]
        assert stored["settings"]["model"] == FAKE_MODEL
    finally:
        second.close()


def test_no_owner_can_reach_another_owners_conversations_through_the_api(fake, auth_running):
    app = auth_running
    ann = app.client(auth=("ann", "ann-pw"))
    bob = app.client(auth=("bob", "bob-pw"))
    fake.enqueue(Scenario(text="Secret answer."))
    app.chat(ann, "Ann's private question")
    app.app.store.flush()
    [anns] = ann.predict(api_name="/list_conversations")

    assert bob.predict(api_name="/list_conversations") == []
    assert bob.predict("private", api_name="/list_conversations") == []
    with pytest.raises(Exception, match="No such chat"):
        bob.predict(anns["id"], api_name="/export_conversation")
    with pytest.raises(Exception, match="No such chat"):
        bob.predict(anns["id"], api_name="/export_markdown")
    assert bob.predict(anns["id"], "Bob's now", api_name="/rename_conversation") is False
    assert bob.predict(anns["id"], api_name="/delete_conversation") is False
    opened = bob.predict(anns["id"], "", api_name="/open_conversation")
    assert "Secret answer." not in str(opened)
    # a forged anonymous token is no way in either
    assert bob.predict("", "forged.token", api_name="/list_conversations") == []

    assert ann.predict(anns["id"], api_name="/export_conversation")["title"] == \
        "Ann's private question"


def test_callers_without_a_session_share_no_chat():
    sessions = Sessions()
    first = sessions.get(None)
    first.open("chat-of-the-first-caller")
    assert sessions.get(None).conversation_id is None
    assert sessions.get("") is not first
    kept = sessions.get("abc")
    assert sessions.get("abc") is kept  # a real session is kept


def test_search_pins_and_folders_through_the_api_reach_only_the_callers_chats(fake, auth_running):
    app = auth_running
    ann = app.client(auth=("ann", "ann-pw"))
    bob = app.client(auth=("bob", "bob-pw"))
    fake.enqueue(Scenario(text="The okapi lives in forests."))
    app.chat(ann, "Tell me about okapis")
    app.app.store.flush()
    [hit] = [h for h in ann.predict("okap", api_name="/search_messages") if h["role"] == "assistant"]
    assert "\x02okapi\x03" in hit["snippet"]
    assert bob.predict("okapi", api_name="/search_messages") == []
    assert bob.predict(hit["conversation_id"], True, api_name="/pin_conversation") is False
    bobs = bob.predict("Stolen", api_name="/create_folder")
    assert bob.predict(hit["conversation_id"], bobs, api_name="/move_conversation") is False

    folder = ann.predict("Animals", api_name="/create_folder")
    assert ann.predict(hit["conversation_id"], True, api_name="/pin_conversation") is True
    assert ann.predict(hit["conversation_id"], folder, api_name="/move_conversation") is True
    assert ann.predict(hit["conversation_id"], bobs, api_name="/move_conversation") is False
    assert bob.predict(folder, api_name="/delete_folder") is False
    [chat] = [c for c in ann.predict(api_name="/list_conversations")
              if c["id"] == hit["conversation_id"]]
    assert (chat["pinned"], chat["folder_id"]) == (True, folder)
    assert [f["name"] for f in ann.predict(api_name="/list_folders")] == ["Animals"]

def test_sharing_through_the_api_reaches_only_the_callers_chats(fake, auth_running):
    app = auth_running
    ann = app.client(auth=("ann", "ann-pw"))
    bob = app.client(auth=("bob", "bob-pw"))
    fake.enqueue(Scenario(text="Capybaras are the largest rodents."))
    app.chat(ann, "Tell me about capybaras")
    app.app.store.flush()
    chat = next(c["id"] for c in ann.predict(api_name="/list_conversations")
                if "capybaras" in c["title"].lower())
    with pytest.raises(AppError, match="No such conversation"):
        bob.predict(chat, [], "anyone", None, api_name="/share_conversation")
    with pytest.raises(AppError, match="cannot be shared"):
        ann.predict(chat, ["secrets"], "anyone", None, api_name="/share_conversation")
    made = ann.predict(chat, ["tools"], "signed_in", 7, api_name="/share_conversation")
    assert made["url"].endswith(f"/share/{made['token']}")
    page = httpx.get(f"{app.url}share/{made['token']}")
    assert page.status_code == 403  # signed-in users only
    [listed] = ann.predict(api_name="/list_shares")
    assert (listed["conversation_id"], listed["audience"]) == (chat, "signed_in")
    assert listed["expires"] > listed["created"] + 6 * 86400
    assert bob.predict(api_name="/list_shares") == []
    assert bob.predict(made["token"], api_name="/revoke_share") is False
    assert ann.predict(made["token"], api_name="/revoke_share") is True
    assert httpx.get(f"{app.url}share/{made['token']}").status_code == 404


def test_fifty_sessions_writing_at_once_store_every_turn(fake, auth_running):
    app = auth_running
    fake.default = Scenario(n_tokens=30, rate=100)
    def one_session(i: int) -> object:
        # 50 clients read the app's API description at once: more than httpx's 5 s on 2 cores
        client = Client(app.url, auth=("ann", "ann-pw"), verbose=False,
                        httpx_kwargs={"timeout": 60})
        try:
            return without_stats(client.submit(f"question {i}", api_name="/chat").result(timeout=60))
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one_session, range(50)))
    app.app.store.flush()

    expected = "".join(f"w{i} " for i in range(30))
    assert results == [expected] * 50
    store = app.app.store
    conversations = store.list_conversations("user:ann")
    assert len(conversations) == 50
    titles = sorted(c.title for c in conversations)
    assert titles == sorted(f"question {i}" for i in range(50))
    for summary in conversations:
        messages = store.get_conversation("user:ann", summary.id).messages
        assert [(m.role, m.status) for m in messages] == [("user", "complete"),
                                                          ("assistant", "complete")]
        assert messages[1].content == expected

def test_a_killed_app_keeps_the_message_and_the_partial_reply_marked_incomplete(fake, tmp_path):
    """SIGKILL mid-reply: at most the last 2 seconds of the reply may be lost."""
    rate = 20  # tokens a second
    fake.default = Scenario(n_tokens=400, rate=rate)
    port = free_port()
    env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
           "ASSISTANT_AUTH": USERS, "ASSISTANT_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("OPENAI_API_KEY", None)
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:  # wait for Gradio to say it is serving
            if "Running on local URL" in line:
                break
        client = Client(f"http://127.0.0.1:{port}/", auth=("ann", "ann-pw"), verbose=False)
        job = client.submit("Count slowly", api_name="/chat")
        seen = ""
        for update in job:
            if isinstance(update, str):
                seen = update
            if len(seen.split()) >= int(3.5 * rate):  # 3.5 s into the reply
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        killed_at_tokens = len(seen.split())
    finally:
        if process.poll() is None:
            process.kill()

    restarted = auth_app(fake, tmp_path)  # its heartbeat marks the reply once the dead one's is old
    try:
        assert restarted.app.heartbeat.marked.wait(10)
        store: Store = restarted.app.store
        [summary] = store.list_conversations("user:ann")
        user, assistant = store.get_conversation("user:ann", summary.id).messages
        assert (user.role, user.content) == ("user", "Count slowly")
        assert assistant.role == "assistant" and assistant.status == "failed"
        assert "stopped while this reply was being written" in assistant.reason
        saved_tokens = len(assistant.content.split())
        assert seen.startswith(assistant.content)
        lost_seconds = (killed_at_tokens - saved_tokens) / rate
        print(f"crash test: saw {killed_at_tokens} tokens, saved {saved_tokens}, "
              f"lost {lost_seconds:.2f} s of reply")
        assert saved_tokens > 0
        assert lost_seconds <= 2.0 + 0.5  # the flush interval, plus the kill's own delay
    finally:
        restarted.close()


def test_saved_memories_reach_the_model_only_when_memory_is_on(fake, auth_running):
    app = auth_running
    ann = app.client(auth=("ann", "ann-pw"))
    memory_id = ann.predict("I prefer metric units", api_name="/add_memory")
    assert ann.predict(api_name="/list_memories") == [{"id": memory_id, "text": "I prefer metric units"}]

    app.chat(ann, "How far is it?", FAKE_MODEL, 0.7, "Be brief.", 5, 100, False)
    assert "metric" not in fake.requests[-1].body["messages"][0]["content"]
    app.chat(ann, "And the weight?", FAKE_MODEL, 0.7, "Be brief.", 5, 100, True)
    system = fake.requests[-1].body["messages"][0]["content"]
    assert system.startswith("Be brief.") and "- I prefer metric units" in system

    bob = app.client(auth=("bob", "bob-pw"))
    assert bob.predict(api_name="/list_memories") == []
    assert bob.predict(memory_id, api_name="/delete_memory") is False
    assert ann.predict(memory_id, api_name="/delete_memory") is True
    assert ann.predict(api_name="/list_memories") == []


def test_versions_and_branches_through_the_api_and_only_for_their_owner(fake, auth_running):
    app = auth_running
    ann = app.client(auth=("ann", "ann-pw"))
    bob = app.client(auth=("bob", "bob-pw"))
    fake.enqueue(Scenario(text="Red."))
    app.chat(ann, "Name a colour")
    app.app.store.flush()
    [chat] = ann.predict(api_name="/list_conversations")
    tree = ann.predict(chat["id"], api_name="/list_versions")
    question, red = tree["messages"]
    blue = app.app.store.add_message(user_owner("ann"), chat["id"], "assistant", "Blue.",
                                     parent_id=question["id"])  # a second version

    tree = ann.predict(chat["id"], api_name="/list_versions")
    assert [(m["text"], m["parent"], m["shown"]) for m in tree["messages"]] == [
        ("Name a colour", None, True), ("Red.", question["id"], False),
        ("Blue.", question["id"], True)]
    assert tree["active"] == blue
    assert ann.predict(chat["id"], red["id"], api_name="/show_version") == [question["id"],
                                                                            red["id"]]
    ann.predict(chat["id"], "", api_name="/open_conversation")
    fake.enqueue(Scenario(text="Crimson."))
    app.chat(ann, "Darker?")  # goes on from the version shown
    sent = [m["content"] for m in fake.requests[-1].body["messages"] if m["role"] != "system"]
    assert sent == ["Name a colour", "Red.", "Darker?"]

    branch = ann.predict(chat["id"], red["id"], api_name="/branch_conversation")
    copied = ann.predict(branch, api_name="/export_conversation")
    assert [m["content"] for m in copied["messages"]] == ["Name a colour", "Red."]

    for endpoint, args in (("/list_versions", (chat["id"],)),
                           ("/show_version", (chat["id"], blue)),
                           ("/branch_conversation", (chat["id"], red["id"]))):
        with pytest.raises(Exception, match="No such"):
            bob.predict(*args, api_name=endpoint)
    assert ann.predict(chat["id"], api_name="/list_versions")["active"] != blue  # untouched
