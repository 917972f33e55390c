"""The judge: a blind A/B prompt, and a strict parser of its JSON verdict."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pytest_llmserver.client import strip_thinking

QUESTION_START = "=== Question ==="
QUESTION_END = "=== End of question ==="
ANSWER_START = "=== Answer {label} ==="
ANSWER_END = "=== End of answer {label} ==="

_JUDGE_SYSTEM = (
    "You are an impartial judge comparing two answers to the same question. "
    "Weigh correctness first, then helpfulness, clarity and completeness. "
    "The order in which the answers appear means nothing, and a longer answer is not better "
    "for being longer. "
    "Reply with ONLY a JSON object and no other text, in exactly this form: "
    '{"winner": "A" or "B" or "tie", "score_a": <number 0-10>, "score_b": <number 0-10>, '
    '"reason": "<one short sentence>"}'
)

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_WINNER_AB = re.compile(r"^(?:answer|response|assistant|option|model)?[\s_-]*([ab])$")
_TIE_WORDS = frozenset({"tie", "tied", "draw", "equal", "even"})
_SCORE_KEYS = {"a": ("scorea", "ascore"), "b": ("scoreb", "bscore")}
_REASON_KEYS = ("reason", "reasoning", "explanation", "rationale")
_SCORE_TEXT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*10)?\s*$")


def judge_messages(question: str, answer_a: str, answer_b: str) -> list[dict[str, Any]]:
    """The judge's chat messages: the question and two answers labelled only "A" and "B"."""
    user = "\n".join(
        [
            QUESTION_START,
            question.strip(),
            QUESTION_END,
            "",
            ANSWER_START.format(label="A"),
            answer_a.strip(),
            ANSWER_END.format(label="A"),
            "",
            ANSWER_START.format(label="B"),
            answer_b.strip(),
            ANSWER_END.format(label="B"),
            "",
            "Which answer responds to the question better? Reply with the JSON object only.",
        ]
    )
    return [{"role": "system", "content": _JUDGE_SYSTEM}, {"role": "user", "content": user}]


def _between(text: str, start: str, end: str) -> str | None:
    i = text.find(start)
    if i < 0:
        return None
    i += len(start)
    j = text.find(end, i)
    return None if j < 0 else text[i:j].strip()


def split_judge_prompt(text: str) -> tuple[str, str, str] | None:
    """(question, answer A, answer B) of a user message built by ``judge_messages``."""
    question = _between(text, QUESTION_START, QUESTION_END)
    a = _between(text, ANSWER_START.format(label="A"), ANSWER_END.format(label="A"))
    b = _between(text, ANSWER_START.format(label="B"), ANSWER_END.format(label="B"))
    if question is None or a is None or b is None:
        return None
    return question, a, b


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _winner(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = re.sub(r"[\"'`\[\]().:!*]", "", value).strip().lower()
    if text in _TIE_WORDS:
        return "tie"
    match = _WINNER_AB.match(text)
    return match.group(1).upper() if match else None


def _score(value: Any) -> float | None:
    number: float
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (match := _SCORE_TEXT.match(value)):
        number = float(match.group(1))
    else:
        return None
    if math.isnan(number):
        return None
    return min(10.0, max(0.0, number))


def _with_winner(obj: Any) -> dict[str, Any] | None:
    """``obj`` (or a dict directly inside it) when it has a "winner" key, any case."""
    if not isinstance(obj, dict):
        return None
    if any(_key(str(k)) == "winner" for k in obj):
        return obj
    for value in obj.values():
        if isinstance(value, dict) and any(_key(str(k)) == "winner" for k in value):
            return value
    return None


def _objects(text: str) -> tuple[list[dict[str, Any]], bool]:
    """Every JSON object with a winner key in ``text``; and whether any "{" began no JSON."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    broken = False
    pos = text.find("{")
    while pos >= 0:
        try:
            obj, end = decoder.raw_decode(text, pos)
        except ValueError:
            broken = True
            pos = text.find("{", pos + 1)
            continue
        verdict = _with_winner(obj)
        if verdict is not None:
            found.append(verdict)
        pos = text.find("{", end)
    return found, broken


def _normalise(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    fields = {_key(str(k)): v for k, v in obj.items()}
    winner = _winner(fields.get("winner"))
    if winner is None:
        return None, f"unrecognised winner value {fields.get('winner')!r}"
    scores = {
        side: next((_score(fields[k]) for k in keys if k in fields), None)
        for side, keys in _SCORE_KEYS.items()
    }
    reason = next((fields[k] for k in _REASON_KEYS if isinstance(fields.get(k), str)), "")
    verdict = {
        "winner": winner,
        "score_a": scores["a"],
        "score_b": scores["b"],
        "reason": str(reason).strip(),
    }
    return verdict, None


def parse_verdict(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(verdict, None)`` from a judge reply, or ``(None, why)``; never guessed from prose.

    The verdict is ``{"winner": "A"|"B"|"tie", "score_a", "score_b", "reason"}`` with scores
    clamped to 0..10 (None when missing). Reasoning blocks are removed first; JSON in code
    fences is preferred to JSON elsewhere; verdicts naming different winners are refused.
    """
    answer = strip_thinking(text or "")
    if not answer:
        return None, "empty reply (nothing outside the reasoning)"
    fenced: list[dict[str, Any]] = []
    for block in _FENCE.findall(answer):
        fenced.extend(_objects(block)[0])
    candidates, broken = (fenced, False) if fenced else _objects(answer)
    if not candidates:
        if broken:
            return None, "a '{' starts no complete JSON object with a 'winner' key (broken JSON?)"
        if "{" in answer:
            return None, "JSON found but no object has a 'winner' key"
        return None, "no JSON object in the reply"
    verdicts: list[dict[str, Any]] = []
    problems: list[str] = []
    for candidate in candidates:
        verdict, problem = _normalise(candidate)
        if verdict is not None:
            verdicts.append(verdict)
        elif problem:
            problems.append(problem)
    if not verdicts:
        return None, problems[0]
    winners = sorted({v["winner"] for v in verdicts})
    if len(winners) > 1:
        return None, f"conflicting verdicts in one reply: {', '.join(winners)}"
    return verdicts[0], None
