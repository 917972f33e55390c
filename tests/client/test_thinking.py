"""The streaming think-tag parser and its whole-text helpers."""

from __future__ import annotations

import pytest

from pytest_llmserver.client import ThinkTagParser, split_thinking, strip_thinking


def feed_all(pieces: list[str]) -> tuple[str, str]:
    parser = ThinkTagParser()
    reasoning, answer = [], []
    for piece in [*pieces, None]:
        r, a = parser.flush() if piece is None else parser.feed(piece)
        reasoning.append(r)
        answer.append(a)
    return "".join(reasoning), "".join(answer)


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>abc</think>Answer"],
        ["<", "t", "h", "i", "n", "k", ">abc<", "/", "think", ">Ans", "wer"],
        ["<think>a", "bc</thi", "nk>Answer"],
        ["<thinking>abc</thinking>Answer"],
    ],
)
def test_tags_split_anywhere(pieces: list[str]) -> None:
    assert feed_all(pieces) == ("abc", "Answer")


def test_plain_text_and_lone_angle_brackets_pass_through() -> None:
    assert feed_all(["x < y and ", "y > z <"]) == ("", "x < y and y > z <")
    assert feed_all(["no tags at all"]) == ("", "no tags at all")


def test_partial_tag_is_held_until_decided() -> None:
    parser = ThinkTagParser()
    assert parser.feed("Hello <thi") == ("", "Hello ")
    assert parser.feed("s is not a tag") == ("", "<this is not a tag")


def test_unclosed_block_is_reasoning() -> None:
    assert feed_all(["<think>still thinking"]) == ("still thinking", "")


def test_split_and_strip() -> None:
    text = "<think>\nstep 1\n</think>\n\nThe result is 4."
    assert split_thinking(text) == ("step 1", "The result is 4.")
    assert strip_thinking(text) == "The result is 4."
    assert strip_thinking("a<think>x</think>b<think>y</think>c") == "abc"
