"""The validation corpus: every built-in task has graded trajectories, and the scorer agrees
with the grader on each; plus the corpus loader's own errors."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from pytest_llmserver.toolbench import builtin_tasks
from pytest_llmserver.toolbench.corpus import (
    VALIDATION_DIR,
    CorpusEntry,
    CorpusError,
    judge,
    load_corpus,
    main,
    trajectory_for,
)

MIN_EACH = 6
TASK_IDS = sorted(t.task_id for t in builtin_tasks())


@cache
def corpus() -> tuple[CorpusEntry, ...]:
    return tuple(load_corpus([VALIDATION_DIR]))


def test_corpus_files_load() -> None:
    assert sorted(VALIDATION_DIR.glob("*.yaml"))
    assert corpus()


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_scorer_agrees_with_the_grader(task_id: str) -> None:
    entries = [e for e in corpus() if e.task_id == task_id]
    good = sum(1 for e in entries if e.acceptable)
    bad = len(entries) - good
    assert good >= MIN_EACH, f"{task_id}: {good} acceptable entries"
    assert bad >= MIN_EACH, f"{task_id}: {bad} unacceptable entries"
    wrong = judge(builtin_tasks(), entries)
    assert not wrong, "\n".join(m.line() for m in wrong)


GOOD = """\
tasks:
  Q01_weather_oslo:
    acceptable:
      - why: "plain answer"
        steps:
          - calls: [{name: functions.get_weather, args: {city: "Oslo"}}]
          - answer: " It is 4 °C and raining in Oslo. "
    unacceptable:
      - why: "no answer at all"
        steps:
          - calls: [{name: get_weather, args: {city: "Oslo"}}, {name: get_weather, args: {}}]
"""


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_entries_and_replays_them_with_the_tools(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    good, bad = load_corpus([tmp_path])
    assert (good.task_id, good.verdict, good.why) == (
        "Q01_weather_oslo",
        "acceptable",
        "plain answer",
    )
    assert (good.source, bad.source) == (f"{path}:4", f"{path}:9")
    assert not bad.acceptable
    assert bad.steps[-1].answer is None
    task = {t.task_id: t for t in builtin_tasks()}["Q01_weather_oslo"]
    run = trajectory_for(task, good)
    assert run.answered
    assert run.final_answer == "It is 4 °C and raining in Oslo."
    (call,) = run.calls
    assert (call.name, call.raw_name, call.is_error) == (
        "get_weather",
        "functions.get_weather",
        False,
    )
    assert '"temperature_c": 4' in call.result
    assert [s.tool_calls for s in run.steps] == [1, 1 - 1]
    unanswered = trajectory_for(task, bad)
    assert not unanswered.answered
    assert unanswered.final_answer == ""
    assert [c.is_error for c in unanswered.calls] == [False, True]
    assert "missing required argument 'city'" in unanswered.calls[1].result
    assert judge(builtin_tasks(), [good, bad]) == []


def test_main_prints_misjudgements_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, GOOD.replace("unacceptable:", "acceptable_x:"))
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    write(tmp_path, GOOD.replace('"plain answer"', '"wrong verdict"').replace("4 °C", "9 °C"))
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert "c.yaml:4: Q01_weather_oslo acceptable failed: wrong verdict -- scorer: " in out[0]
    assert out[1] == "1 acceptable failed, 0 unacceptable passed, of 1+1 entries over 1 tasks"
    write(tmp_path, GOOD)
    assert main([str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("    acceptable:\n", "    acceptable: [\n"), "c.yaml:4: not valid YAML"),
        (
            GOOD.replace('"Oslo"}}]\n          - answer', '"Oslo"}]\n          - answer'),
            "c.yaml:6: ",
        ),
        (
            GOOD.replace("  Q01_weather_oslo:", "  Q99_nope:"),
            "c.yaml:2: unknown task id 'Q99_nope'",
        ),
        (
            GOOD.replace("functions.get_weather", "get_wether"),
            "c.yaml:6: task 'Q01_weather_oslo'.acceptable[0].steps[0].calls[0]: "
            "unknown tool 'get_wether' (task tools: ",
        ),
        (
            GOOD.replace("    unacceptable:", "    unaceptable:"),
            "c.yaml:8: task 'Q01_weather_oslo': unknown field 'unaceptable'",
        ),
        (
            GOOD.replace('      - why: "plain answer"\n        steps:', "      - steps:"),
            "c.yaml:4: task 'Q01_weather_oslo'.acceptable[0]: missing field 'why'",
        ),
        (
            GOOD.replace('"no answer at all"', '""'),
            "c.yaml:9: task 'Q01_weather_oslo'.unacceptable[0]: 'why' must be one non-empty line",
        ),
        (
            GOOD.replace(
                '          - answer: " It', '          - answer: "x"\n          - answer: " It'
            ),
            "c.yaml:8: task 'Q01_weather_oslo'.acceptable[0].steps[2]: "
            "a step after the final answer",
        ),
        (
            GOOD.replace('          - answer: " It is 4 °C and raining in Oslo. "\n', ""),
            "c.yaml:4: task 'Q01_weather_oslo'.acceptable[0]: "
            "an acceptable entry ends with an answer",
        ),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CorpusError) as info:
        load_corpus([path])
    text_of = str(info.value)
    assert "\n" not in text_of
    assert text_of.startswith(f"{tmp_path}/{message}"), text_of


def test_too_many_steps_for_the_task(tmp_path: Path) -> None:
    many = "          - calls: [{name: get_weather, args: {city: Oslo}}]\n" * 4
    text = GOOD.replace('          - answer: " It', many + '          - answer: " It')
    with pytest.raises(
        CorpusError, match=r"c\.yaml:5: .*acceptable\[0\]: 6 steps, the task allows 4$"
    ):
        load_corpus([write(tmp_path, text)])
