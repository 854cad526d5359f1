"""Documents and images in the chat: attached in a message, searched, cited, reopened."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from gradio_client import handle_file
from PIL import Image as PILImage

from fakes.fake_openai import FakeOpenAI, Scenario
from tests.conftest import FAKE_MODEL, RunningApp, model_posts, start_app

NOTES = "# Harbour\n\nThe harbour of Velmora exports dried kelp to the northern isles.\n"
SEARCH = {"name": "search_documents", "arguments": json.dumps({"query": "Velmora exports"})}


@pytest.fixture(scope="module")
def docs_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("docs"))})
    yield app
    app.close()


def chat(client: Any, message: Any, *, tools: list[str], documents: bool = True,
         model: str = FAKE_MODEL) -> Any:
    job = client.submit(message, model, 0.7, "", 10, 1024, False, "chat_completions",
                        tools, documents, api_name="/chat")
    list(job)
    return job.result()


def titled(final: Any, start: str) -> list[dict]:
    messages = final if isinstance(final, list) else [final]
    return [m for m in messages if isinstance(m, dict)
            and str((m.get("metadata") or {}).get("title", "")).startswith(start)]


def attach_notes(client: Any, tmp_path: Path, fake: FakeOpenAI) -> Any:
    path = tmp_path / "velmora.md"
    path.write_text(NOTES)
    return chat(client, {"text": "", "files": [handle_file(str(path))]}, tools=[])


def test_a_file_attached_in_the_chat_is_added_without_asking_the_model(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    final = attach_notes(ann, tmp_path, fake)

    [added] = titled(final, "📄 Added velmora.md")
    assert "1 page" in added["metadata"].get("title", "")
    assert model_posts(fake) == []
    found = ann.predict("Velmora kelp", 5, "", api_name="/search_documents")
    assert found[0]["name"] == "velmora.md" and found[0]["heading"] == "Harbour"


def test_the_tool_finds_the_passage_and_the_reply_cites_it_with_a_link(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    attach_notes(ann, tmp_path, fake)
    fake.reset()
    fake.enqueue(Scenario(tool_calls=[SEARCH]), Scenario(echo_tool_results=True))
    final = chat(ann, "What does Velmora export?", tools=["search_documents"])

    sent = json.dumps(model_posts(fake)[-1].body["messages"])
    assert "dried kelp" in sent and "[1] velmora.md, Harbour" in sent
    [sources] = titled(final, "📚 Sources")
    link = sources["content"] if isinstance(sources["content"], str) else \
        sources["content"][0]["text"]
    assert "velmora.md, Harbour" in link
    url = re.search(r"\]\((source/[^)]+)\)", link)[1]
    page = httpx.get(docs_app.url + url)
    assert page.status_code == 200 and "<mark>" in page.text and "dried kelp" in page.text


def test_without_tools_the_best_passages_go_in_the_prompt_and_are_listed(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    attach_notes(ann, tmp_path, fake)
    fake.reset()
    fake.enqueue(Scenario(text="It exports dried kelp [1]."))
    final = chat(ann, "What does Velmora export?", tools=[])

    system = model_posts(fake)[-1].body["messages"][0]
    assert system["role"] == "system" and "dried kelp" in system["content"]
    assert "[1] velmora.md, Harbour" in system["content"]
    assert "tools" not in model_posts(fake)[-1].body
    assert titled(final, "📚 Sources (1)")


def test_the_switch_off_sends_no_passages(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    attach_notes(ann, tmp_path, fake)
    fake.reset()
    fake.enqueue(Scenario(text="No idea."))
    final = chat(ann, "What does Velmora export?", tools=["search_documents"], documents=False)

    body = model_posts(fake)[-1].body
    assert "dried kelp" not in json.dumps(body) and "tools" not in body
    assert not titled(final, "📚 Sources")


def test_another_owner_gets_nothing_from_my_documents(docs_app, fake, tmp_path):
    attach_notes(docs_app.client(auth=("ann", "ann-pw")), tmp_path, fake)
    fake.reset()
    fake.enqueue(Scenario(text="No idea."))
    chat(docs_app.client(auth=("bob", "bob-pw")), "What does Velmora export?", tools=[])

    assert "dried kelp" not in json.dumps(model_posts(fake)[-1].body)


def test_citations_come_back_when_the_chat_is_reopened(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    attach_notes(ann, tmp_path, fake)
    fake.enqueue(Scenario(text="Dried kelp [1]."))
    chat(ann, "What does Velmora export?", tools=[])
    docs_app.app.store.flush()
    [latest] = docs_app.app.store.list_conversations("user:ann", limit=1)
    shown = ann.predict(latest.id, "", api_name="/open_conversation")[0]

    [sources] = titled(shown, "📚 Sources (1)")
    assert "velmora.md, Harbour" in json.dumps(sources)
    exported = docs_app.app.store.export_markdown("user:ann", latest.id)
    assert "**Sources**" in exported and "[1] velmora.md, Harbour" in exported


def photo(path: Path, size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (200, 120, 40)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_an_attached_image_reaches_the_model_downscaled_and_is_kept(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    fake.enqueue(Scenario(echo_images=True))
    image = photo(tmp_path / "sunset.jpg", (3000, 2000))
    final = chat(ann, {"text": "What is this?", "files": [handle_file(image)]}, tools=[])

    assert "Saw 1 image: image/jpeg 1024x683" in json.dumps(final)
    docs_app.app.store.flush()
    [latest] = docs_app.app.store.list_conversations("user:ann", limit=1)
    [stored] = docs_app.app.store.get_conversation("user:ann", latest.id).messages[0].images
    assert stored.media_type == "image/jpeg" and PILImage.open(io.BytesIO(stored.data)).size == \
        (1024, 683)
    exported = docs_app.app.store.export_json("user:ann", latest.id)
    assert exported["messages"][0]["images"][0]["media_type"] == "image/jpeg"

    shown = ann.predict(latest.id, "", api_name="/open_conversation")[0]
    [reopened] = [m for m in shown if m["role"] == "user" and isinstance(m["content"], list)]
    [picture] = [part["file"] for part in reopened["content"] if part.get("type") == "file"]
    with httpx.Client(base_url=docs_app.url) as web:
        web.post("/login", data={"username": "ann", "password": "ann-pw"})
        served = web.get(f"/gradio_api/file={picture}")
    assert served.status_code == 200 and served.content == stored.data


def test_an_earlier_image_goes_again_to_a_model_that_reads_images(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    image = photo(tmp_path / "map.jpg", (1600, 800))
    fake.enqueue(Scenario(echo_images=True))
    first = chat(ann, {"text": "What is this?", "files": [handle_file(image)]}, tools=[],
                 model="gpt-4o")
    fake.enqueue(Scenario(echo_images=True))
    later = chat(ann, "And the colours?", tools=[], model="gpt-4o")
    fake.enqueue(Scenario(echo_images=True))
    unknown = chat(ann, "Once more?", tools=[])

    assert "Saw 1 image: image/jpeg 1024x512" in json.dumps(first)
    assert "Saw 1 image: image/jpeg 1024x512" in json.dumps(later)
    assert "Saw 0 images." in json.dumps(unknown)  # a model not known to see gets the text only


def test_a_model_that_cannot_see_images_says_so_clearly(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    fake.enqueue(Scenario(reject_images=True))
    image = photo(tmp_path / "cat.jpg", (64, 64))
    final = chat(ann, {"text": "What is this?", "files": [handle_file(image)]}, tools=[])

    assert "cannot read images" in json.dumps(final)
    fake.enqueue(Scenario(text="Still here."))
    assert "Still here." in json.dumps(chat(ann, "Hello?", tools=[]))


def test_a_file_that_is_no_image_or_document_is_refused_in_the_chat(docs_app, fake, tmp_path):
    ann = docs_app.client(auth=("ann", "ann-pw"))
    junk = tmp_path / "notes.txt"
    junk.write_bytes(bytes(range(256)) * 8)
    final = chat(ann, {"text": "", "files": [handle_file(str(junk))]}, tools=[])

    [refused] = titled(final, "⚠️")
    assert "notes.txt" in refused["metadata"].get("title", "") and "Traceback" not in json.dumps(final)
