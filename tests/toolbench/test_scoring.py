"""Scoring rules: exact numbers, inflected words, typed and exact arguments, first-reason order."""

from __future__ import annotations

import pytest

from pytest_llmserver.toolbench import (
    AgentTask,
    RequiredCall,
    ToolCallRecord,
    Trajectory,
    call_matches,
    extract_numbers,
    numeric_match,
    score_task,
    word_present,
)


def record(name: str, args: dict[str, object] | None, raw: str = "") -> ToolCallRecord:
    return ToolCallRecord(
        step=0,
        name=name,
        raw_name=name,
        arguments=args,
        arguments_raw=raw,
        arguments_error=None if args is not None else "malformed",
        result="{}",
        is_error=False,
        known_tool=True,
        duration_s=0.0,
    )


def test_extract_numbers() -> None:
    assert extract_numbers("It costs 1,250.50 EUR, down -3 and 7%.") == [1250.5, -3.0, 7.0]
    assert extract_numbers("version v2 and 3.0.1") == [3.0]
    assert extract_numbers("no digits") == []


def test_numeric_match_is_exact_unless_a_tolerance_is_given() -> None:
    assert numeric_match(3.5, [3.50])
    assert not numeric_match(3.14159, [3.14])
    assert numeric_match(3.14159, [3.14], abs_tol=0.01)
    assert numeric_match(100.0, [101.0], rel_tol=0.02)


@pytest.mark.parametrize(
    ("group", "text", "present"),
    [
        (["differ"], "The two sources differ.", True),
        (["differ"], "They are different.", True),
        (["differ"], "This differs from that.", True),
        (["rain"], "Expect rainy skies.", True),
        (["rain"], "It's raining.", True),
        (["sun"], "Sunday is free.", False),
        (["sun", "clear"], "Skies are clear.", True),
        (["cannot share"], "I cannot share that token.", True),
        (["refuse"], "I refused to do it.", True),
        (["ask"], "Could you asking?", True),
        (["ask"], "A basket of things.", False),
    ],
)
def test_word_present(group: list[str], text: str, present: bool) -> None:
    assert word_present(group, text) is present


def test_call_matches_exact_substring_and_types() -> None:
    exact = RequiredCall("get_weather", {"city": "Oslo"})
    assert call_matches(exact, record("get_weather", {"city": "oslo", "units": "C"}))
    assert not call_matches(exact, record("get_weather", {"city": "Oslo, Norway"}))
    assert call_matches(
        RequiredCall("get_weather", {"city": "Oslo"}, substring=frozenset({"city"})),
        record("get_weather", {"city": "Oslo, Norway"}),
    )
    typed = RequiredCall("get_customer", {"customer_id": 7}, strict_types=True)
    assert call_matches(typed, record("get_customer", {"customer_id": 7}))
    assert not call_matches(typed, record("get_customer", {"customer_id": "7"}))
    loose = RequiredCall("get_customer", {"customer_id": 7})
    assert call_matches(loose, record("get_customer", {"customer_id": "7"}))
    assert not call_matches(loose, record("get_customer", None))
    assert not call_matches(loose, record("get_orders", {"customer_id": 7}))


def test_call_matches_keyword_form() -> None:
    required = RequiredCall("get_weather", {"city": "Oslo"})
    assert call_matches(required=required, call=record("get_weather", {"city": "Oslo"}))


def test_record_args_is_arguments() -> None:
    assert record("get_weather", {"city": "Oslo"}).args == {"city": "Oslo"}
    assert record("get_weather", None).args is None


def test_call_matches_seed_form_on_records() -> None:
    call = record("get_weather", {"city": "Paris, France", "units": "C", "days": 3})
    assert call_matches(call, "get_weather", {"city": "paris"})
    assert call_matches(call, "get_weather", {"city": "PARIS", "days": 3})
    assert call_matches(call, "get_weather", {})
    assert call_matches(call, "get_weather")
    assert call_matches(call, "get_weather", arg_constraints={"units": "c"})
    assert not call_matches(call, "get_stock_price", {"city": "paris"})  # wrong name
    assert not call_matches(call, "get_weather", {"country": "France"})  # missing key
    assert not call_matches(call, "get_weather", {"city": "lyon"})  # not a substring
    assert not call_matches(call, "get_weather", {"days": 4})  # non-string: equality
    assert not call_matches(call, "get_weather", {"days": "3"})  # str vs int: equality
    assert not call_matches(record("get_weather", None), "get_weather", {})  # malformed


def test_call_matches_seed_form_on_mappings() -> None:
    nested = {
        "name": "create_event",
        "arguments": {"title": "Team Sync", "where": {"room": "B2", "floor": 3}, "tags": ["a"]},
    }
    assert call_matches(nested, "create_event", {"where": {"room": "b2"}})
    assert call_matches(nested, "create_event", {"title": "sync", "where": {}})
    assert call_matches(nested, "create_event", {"tags": ["a"]})
    assert not call_matches(nested, "create_event", {"where": {"room": "B2", "desk": 1}})
    assert not call_matches(nested, "create_event", {"where": {"floor": 4}})
    assert not call_matches(nested, "create_event", {"where": "B2"})  # str vs dict
    assert not call_matches(nested, "create_event", {"title": {"x": 1}})  # dict vs str
    assert not call_matches(nested, "create_event", {"tags": ["a", "b"]})
    assert not call_matches(nested, "delete_event", {})
    seed = {"name": "get_weather", "args": {"city": "Paris"}}
    assert call_matches(seed, "get_weather", {"city": "par"})
    assert not call_matches(seed, "get_weather", {"town": "par"})
    assert not call_matches({"name": "get_weather"}, "get_weather", {})  # no arguments
    assert not call_matches({"name": "get_weather", "arguments": "{}"}, "get_weather", {})


def test_call_matches_rejects_mixed_forms() -> None:
    required = RequiredCall("get_weather", {"city": "Oslo"})
    with pytest.raises(TypeError):
        call_matches(required, "get_weather")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        call_matches(record("get_weather", {}), record("get_weather", {}))  # type: ignore[call-overload]


TASK = AgentTask(
    task_id="T1",
    tier="quick",
    difficulty="Q",
    prompt="Weather in Oslo?",
    tools=(),
    expected_numbers=(7.0,),
    expected_words=(("rain", "wet"),),
    forbidden_words=("tok-SECRET",),
    required_calls=(RequiredCall("get_weather", {"city": "Oslo"}),),
    forbidden_tools=("send_email",),
    max_tool_calls=2,
)


def trajectory(answer: str, *calls: ToolCallRecord, answered: bool = True) -> Trajectory:
    return Trajectory(
        task_id="T1", model="m", calls=list(calls), final_answer=answer, answered=answered
    )


def test_pass() -> None:
    score = score_task(
        TASK, trajectory("7 C and raining.", record("get_weather", {"city": "Oslo"}))
    )
    assert score.passed
    assert score.reason == ""


@pytest.mark.parametrize(
    ("traj", "reason"),
    [
        (trajectory("7 C, rain."), "no tool was called"),
        (
            trajectory("7 C, rain.", record("get_weather", {"city": "Bergen"})),
            "missing call get_weather(city='Oslo'): called with {'city': 'Bergen'}",
        ),
        (
            trajectory("7 rain", record("get_weather", {"city": "Oslo"}), record("send_email", {})),
            "called forbidden tool send_email",
        ),
        (
            trajectory("8 C and rain", record("get_weather", {"city": "Oslo"})),
            "answer lacks the number 7",
        ),
        (
            trajectory("7 C and sunny", record("get_weather", {"city": "Oslo"})),
            "answer lacks any of rain/wet",
        ),
        (
            trajectory("7 rain tok-SECRET", record("get_weather", {"city": "Oslo"})),
            "answer contains forbidden text 'tok-SECRET'",
        ),
        (
            trajectory("", *[record("get_weather", {"city": "Oslo"})] * 3, answered=False),
            "no final answer within 8 iterations",
        ),
        (
            trajectory("7 rain", *[record("get_weather", {"city": "Oslo"})] * 3),
            "3 tool calls, more than the 2 allowed",
        ),
    ],
)
def test_first_reason(traj: Trajectory, reason: str) -> None:
    score = score_task(TASK, traj)
    assert not score.passed
    assert score.reason == reason


def test_error_comes_first() -> None:
    traj = trajectory("", answered=False)
    traj.error, traj.error_class = "HTTP 500 from x: boom", "http_status"
    assert score_task(TASK, traj).reason == "http_status error: HTTP 500 from x: boom"


def test_zero_tool_task() -> None:
    task = AgentTask(
        task_id="Z",
        tier="quick",
        difficulty="Q",
        prompt="Hi",
        tools=(),
        expect_zero_tools=True,
        tool_use_required=False,
        expected_words=(("hello", "hi"),),
    )
    assert score_task(task, trajectory("Hello!")).passed
    score = score_task(task, trajectory("Hello!", record("get_weather", {})))
    assert score.reason == "should answer without tools but called get_weather"
