"""The stored conversation is the truth: the model's context comes from its records, and
Continue, Retry and Edit are actions that keep every version."""

from __future__ import annotations

import pytest

from assistant.conversation.actions import Action, plan
from assistant.domain.messages import Reasoning, ToolCall, ToolResult
from assistant.domain.validation import InvalidInput
from assistant.storage.context import model_messages
from assistant.storage.records import Message, StoredImage
from fakes.fake_openai import Scenario
from fakes.fake_scenario import data_inside, tool_outputs
from tests.conftest import APIS, FAKE_MODEL, model_posts, start_app

LONG_RESULT = " ".join(f"row-{n:05d}" for n in range(1200))  # 11,999 characters


@pytest.fixture
def signed_in(fake, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw", "ASSISTANT_DATA_DIR": str(tmp_path)})
    yield app
    app.close()


@pytest.mark.parametrize("api", APIS)
def test_a_long_tool_result_reaches_the_model_whole_with_its_own_call_id(signed_in, fake, api):
    toolbox = signed_in.app.service.rounds.toolbox

    async def table(name: str) -> str:
        return LONG_RESULT

    toolbox.function(table, description="Reads a table.")
    try:
        ann = signed_in.client(auth=("ann", "ann-pw"))
        fake.enqueue(Scenario(tool_calls=[{"id": "call_table_7f3a", "name": "table",
                                           "arguments": '{"name": "rows"}'}]),
                     Scenario(text="It has 1200 rows."))
        signed_in.chat(ann, "How many rows?", api=api, tools=["table"])
        fake.enqueue(Scenario(text="The first is row-00000."))
        signed_in.chat(ann, "Which is first?", api=api, tools=["table"])
    finally:
        toolbox.remove("table")

    sent = model_posts(fake)[-1].body
    assert [data_inside(output) for output in tool_outputs(sent)] == [LONG_RESULT]
    assert "call_table_7f3a" in str(sent)
    assert "It has 1200 rows." in str(sent)


def test_continue_typed_after_a_cut_reply_goes_to_the_model_as_that_word(signed_in, fake):
    ann = signed_in.client(auth=("ann", "ann-pw"))
    fake.enqueue(Scenario(text="Once upon a", finish_reason="length"))
    signed_in.chat(ann, "Tell me a story")
    fake.enqueue(Scenario(text="Continue what?"))
    signed_in.chat(ann, "Continue")

    messages = model_posts(fake)[-1].body["messages"]
    assert messages[-1] == {"role": "user", "content": "Continue"}
    assert messages[-2] == {"role": "assistant", "content": "Once upon a"}


# The actions on a stored path, one layer down --------------------------------------------

def _message(id_: int, parent: int | None, role: str, content: str, status: str = "complete",
             steps: tuple = ()) -> Message:
    return Message(id_, id_, role, content, status, None, None, 0.0, 0.0, steps=steps,
                   parent_id=parent)


PATH = (_message(1, None, "user", "Weather in Oslo?"),
        _message(2, 1, "assistant", "9 °C.", steps=(
            {"type": "reasoning", "text": "Look it up.", "seconds": 1.0, "at": 0},
            {"type": "tool", "text": "9", "seconds": 0.1, "at": 0, "name": "weather",
             "call_id": "call_x", "arguments": "{}", "failed": False, "round": 1})),
        _message(3, 2, "user", "And Paris?"),
        _message(4, 3, "assistant", "It is", status="stopped"))


def test_a_stored_reply_becomes_its_calls_results_and_text_with_reasoning_apart():
    reply = model_messages(PATH)[1]
    assert reply.parts[:3] == (Reasoning("Look it up."), ToolCall("call_x", "weather", "{}"),
                               ToolResult("call_x", "weather", "9"))
    assert reply.text == "9 °C." and not reply.incomplete
    assert model_messages(PATH)[-1].incomplete


def test_each_action_names_where_its_records_go():
    send = plan(Action("send"), PATH)
    assert (send.parent_id, send.asks, len(send.history)) == (4, True, 4)
    cont = plan(Action("continue"), PATH)
    assert (cont.parent_id, cont.asks, cont.continues) == (4, False, True)
    retry = plan(Action("retry"), PATH)  # a sibling of reply 4, answering message 3 again
    assert (retry.parent_id, retry.asks, retry.text, len(retry.history)) == (3, False,
                                                                              "And Paris?", 2)
    edit = plan(Action("edit", 1), PATH)  # a sibling of message 3, after reply 2
    assert (edit.parent_id, edit.asks, len(edit.history)) == (2, True, 2)
    first = plan(Action("edit", 0), PATH)
    assert (first.parent_id, first.history) == (None, [])


def test_an_action_on_a_message_that_is_not_there_says_so():
    with pytest.raises(InvalidInput):
        plan(Action("edit", 5), PATH)
    with pytest.raises(InvalidInput):
        plan(Action("continue"), PATH[:3])


def test_the_page_text_finds_the_message_when_the_page_holds_turns_that_stored_nothing():
    # The page shows a question that hit a limit between the two stored ones: its count of
    # user messages is one ahead of the store's.
    edit = plan(Action("edit", 2, "And Paris?"), PATH)
    assert (edit.parent_id, len(edit.history)) == (2, 2)  # still message 3's sibling
    retry = plan(Action("retry", 2, "Never stored?"), PATH)  # asked again, after the path
    assert (retry.parent_id, retry.asks, retry.text, len(retry.history)) == (
        4, True, "Never stored?", 4)
    assert plan(Action("retry", 1, "And Paris?"), PATH).parent_id == 3


def test_an_edited_question_keeps_its_images():
    with_image = (Message(1, 1, "user", "What is this?", "complete", None, None, 0.0, 0.0,
                          images=(StoredImage("image/png", b"png", "cat.png"),)),)
    edit = plan(Action("edit", 0, "What is this?"), with_image)
    assert [i.data for i in edit.images] == [b"png"] and edit.text is None


def test_a_signed_in_script_that_cancels_its_reply_still_stops_it(signed_in, fake):
    fake.enqueue(Scenario(n_tokens=400, rate=20))
    client = signed_in.client(auth=("ann", "ann-pw"))
    job = client.submit("Count for my script", api_name="/chat")
    for update in job:
        if isinstance(update, str) and len(update.split()) >= 2:
            break
    job.cancel()  # kept as ann's chat, but a script has no page to come back with
    assert fake.wait_for_disconnect(timeout=2)


def test_a_message_with_versions_shows_arrows_to_the_versions_beside_it():
    from assistant.domain.reply import Place
    from assistant.storage.records import Conversation
    from assistant.web.render import turn_versions
    from assistant.web.stored_chat import chat_messages

    def message(mid, role, text, parent):
        return Message(mid, mid, role, text, "complete", None, {}, 0.0, 0.0, parent_id=parent)

    chat = Conversation("c", "t", 0.0, 0.0, {}, (
        message(1, "user", "Q", None), message(2, "assistant", "A1", 1),
        message(3, "assistant", "A2", 1), message(4, "assistant", "A3", 1)), active_id=3)
    shown = chat_messages(chat)
    assert [m["content"] for m in shown][:2] == ["Q", "A2"]
    assert shown[-1]["metadata"].get("title", "") == \
        "Reply: [◀](#version-2) 2 / 3 [▶](#version-4)"
    first = chat_messages(Conversation("c", "t", 0.0, 0.0, {}, chat.messages, active_id=2))
    assert first[-1]["metadata"].get("title", "") == "Reply: ◀ 1 / 3 [▶](#version-3)"

    above, below = turn_versions(Place("o", "c", parent_id=None, asks=True, earlier=(1,)))
    assert below == [] and above[0]["metadata"].get("title", "") == \
        "Your message: [◀](#version-1) 2 / 2 ▶"
    assert turn_versions(Place("o", "c", parent_id=1, asks=True)) == ([], [])
