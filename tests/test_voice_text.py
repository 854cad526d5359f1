"""What a reply read aloud says: its sentences, in words, each once, as the reply grows."""

from __future__ import annotations

from assistant.voice.speakable import Sentences, speakable


def test_only_words_are_spoken() -> None:
    said = speakable("## **Paris** is the [capital](https://fr.example/paris) of _France_ [1][2]. "
                     "See https://evil.example/x?q=1 or `os.path` ![a map of Paris](m.png) | done")
    assert said == "Paris is the capital of France. See or os.path a map of Paris done"
    for symbol in ("*", "#", "[", "]", "http", "_", "`", "|", "(", ")"):
        assert symbol not in said


def test_a_line_of_symbols_or_a_rule_says_nothing() -> None:
    assert speakable("---") == ""
    assert speakable("| --- | :-: |") == ""
    assert speakable("[3]") == ""


def test_sentences_come_once_each_as_the_reply_grows() -> None:
    reply = "First one. Second one! Third, still going"
    sentences, heard = Sentences(), []
    for end in range(1, len(reply) + 1):
        heard += sentences.feed(reply[:end])
    assert heard == ["First one.", "Second one!"]  # the third has not ended
    assert sentences.feed(reply, final=True) == ["Third, still going"]
    assert sentences.feed(reply, final=True) == []


def test_code_blocks_are_skipped_even_while_being_written() -> None:
    sentences = Sentences()
    assert sentences.feed("Run this:\n```python\nx = 1. y = 2.\n") == ["Run this:"]
    assert sentences.feed("Run this:\n```python\nx = 1. y = 2.\n```\nThen stop. ") == ["Then stop."]


def test_list_items_and_headings_end_at_their_line() -> None:
    heard = Sentences().feed("# Steps\n- open the door\n1. sit down\n\nDone.", final=True)
    assert heard == ["Steps", "open the door", "sit down", "Done."]


def test_a_sentence_is_spoken_at_its_full_stop_not_at_the_next_token() -> None:
    sentences = Sentences()
    assert sentences.feed("Hello there.") == ["Hello there."]
    assert sentences.feed("Hello there. It costs 3.") == []  # "3." may go on as "3.50"
    assert sentences.feed("Hello there. It costs 3.50 now. Go to https://x.") == ["It costs 3.50 now."]
