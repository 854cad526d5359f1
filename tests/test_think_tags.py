"""`<think>` tags at the start of a reply are reasoning, however the stream splits them."""

from __future__ import annotations

import pytest

from assistant.providers.think_tags import ThinkTags


def feed_all(pieces: list[str]) -> tuple[str, str]:
    tags, reasoning, answer = ThinkTags(), "", ""
    for piece in [*pieces, None]:
        thought, text = tags.flush() if piece is None else tags.feed(piece)
        reasoning, answer = reasoning + thought, answer + text
    return reasoning, answer


@pytest.mark.parametrize("pieces", [
    ["<think>plan it</think>Answer."],
    ["<thi", "nk>plan", " it</th", "ink>", "Answer."],
    ["\n", "<think>", "plan it", "<", "/think>\n\nAnswer."],
], ids=["whole", "split", "blank-first"])
def test_reasoning_in_think_tags_is_split_from_the_answer(pieces):
    assert feed_all(pieces) == ("plan it", "Answer.")


def test_text_without_tags_passes_through_unchanged():
    assert feed_all(["Hello ", "<b>world</b>"]) == ("", "Hello <b>world</b>")


def test_a_tag_later_in_the_text_is_part_of_the_answer():
    assert feed_all(["Use ", "<think>", " in prompts"]) == ("", "Use <think> in prompts")


def test_a_stream_cut_inside_the_reasoning_keeps_it_all_as_reasoning():
    assert feed_all(["<think>half a tho", "ught </thi"]) == ("half a thought </thi", "")


def test_a_lone_lt_sign_that_is_not_a_tag_is_answer_text():
    assert feed_all(["<", "3 you"]) == ("", "<3 you")
