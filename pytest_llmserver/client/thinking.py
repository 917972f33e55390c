"""Reasoning kept apart from the answer: a streaming parser for inline ``<think>`` tags."""

from __future__ import annotations

THINK_TAGS: tuple[tuple[str, str], ...] = (("<think>", "</think>"), ("<thinking>", "</thinking>"))


def _partial_tag_len(text: str, start: int, tags: tuple[str, ...]) -> int:
    """Length of the longest tail of ``text[start:]`` that is a proper prefix of one of ``tags``."""
    best = 0
    for tag in tags:
        for k in range(min(len(tag) - 1, len(text) - start), best, -1):
            if text.endswith(tag[:k]):
                best = k
                break
    return best


class ThinkTagParser:
    """Splits streamed text into (reasoning, answer), surviving tags cut across chunks.

    A tail that may be the start of a tag is held back until the next chunk (or ``flush``)
    decides it. Text between an open tag and its close tag is reasoning; the rest is answer.
    """

    __slots__ = ("_close", "_inside", "_opens", "_pending", "_tags")

    def __init__(self, tags: tuple[tuple[str, str], ...] = THINK_TAGS) -> None:
        self._tags = tags
        self._opens = tuple(open_tag for open_tag, _ in tags)
        self._inside = False
        self._close = ""
        self._pending = ""

    @property
    def inside(self) -> bool:
        """True while between an open tag and its close tag."""
        return self._inside

    def feed(self, text: str) -> tuple[str, str]:
        """Consume one chunk; return the (reasoning, answer) text it settles."""
        if self._pending:
            text = self._pending + text
            self._pending = ""
        elif "<" not in text:
            return (text, "") if self._inside else ("", text)
        reasoning: list[str] = []
        answer: list[str] = []
        pos = 0
        while True:
            if self._inside:
                idx = text.find(self._close, pos)
                if idx < 0:
                    keep = _partial_tag_len(text, pos, (self._close,))
                    reasoning.append(text[pos : len(text) - keep])
                    self._pending = text[len(text) - keep :]
                    break
                reasoning.append(text[pos:idx])
                pos = idx + len(self._close)
                self._inside = False
            else:
                idx, close = -1, ""
                for open_tag, close_tag in self._tags:
                    found = text.find(open_tag, pos)
                    if found >= 0 and (idx < 0 or found < idx):
                        idx, close = found, close_tag
                        open_len = len(open_tag)
                if idx < 0:
                    keep = _partial_tag_len(text, pos, self._opens)
                    answer.append(text[pos : len(text) - keep])
                    self._pending = text[len(text) - keep :]
                    break
                answer.append(text[pos:idx])
                pos = idx + open_len
                self._inside, self._close = True, close
        return "".join(reasoning), "".join(answer)

    def flush(self) -> tuple[str, str]:
        """Release held-back text at the end of the stream."""
        rest, self._pending = self._pending, ""
        return (rest, "") if self._inside else ("", rest)


def split_thinking(text: str) -> tuple[str, str]:
    """Return (reasoning, answer) of a complete text with inline think tags, both stripped."""
    parser = ThinkTagParser()
    reasoning, answer = parser.feed(text)
    tail_reasoning, tail_answer = parser.flush()
    return (reasoning + tail_reasoning).strip(), (answer + tail_answer).strip()


def strip_thinking(text: str) -> str:
    """The answer of ``text`` with every think block removed."""
    return split_thinking(text)[1]
