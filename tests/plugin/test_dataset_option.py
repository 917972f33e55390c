"""``--llm-dataset`` and ``--llm-prompt`` under pytest: 50 prompts in each format run in the
throughput and realistic-user modes against the simulator; a bad dataset stops the run before
the first test with one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.settings import Settings, SettingsError
from pytest_llmserver.stress import BUNDLED_DATASET

PROMPTS = [f"Question {i}: name {i % 7 + 1} things found in a kitchen." for i in range(50)]
SHORT = ["--llm-server=sim", "-p", "no:cacheprovider", "--llm-total=8", "--llm-duration=2"]


def _jsonl(path: Path) -> None:
    rows: list[dict[str, Any]] = [{"prompt": p, "output_tokens": 6} for p in PROMPTS[:25]]
    rows += [{"messages": [{"role": "user", "content": p}]} for p in PROMPTS[25:]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _sharegpt(path: Path) -> None:
    items = [
        {"conversations": [{"from": "human", "value": p}, {"from": "gpt", "value": "Spoons."}]}
        for p in PROMPTS
    ]
    path.write_text(json.dumps(items))


def _csv(path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "output_tokens"])
        writer.writerows([p, 6] for p in PROMPTS)


def _report(pytester: pytest.Pytester, mode: str) -> dict[str, Any]:
    (path,) = (pytester.path / "logs" / "latest").glob(f"stress-{mode}-*.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


@pytest.mark.parametrize(
    ("name", "make"), [("d.jsonl", _jsonl), ("share.json", _sharegpt), ("d.csv", _csv)]
)
def test_fifty_prompts_in_each_format_run_throughput_and_realistic_users(
    llm_pytester: pytest.Pytester, name: str, make: Any
) -> None:
    path = llm_pytester.path / name
    make(path)
    result = llm_pytester.runpytest_inprocess(
        *SHORT,
        "-m",
        "throughput or realistic_user",
        "--llm-sweep=2",
        "--llm-arrival-rate=3",
        f"--llm-dataset={name}",  # relative: resolved to an absolute path
        f"--llm-logs={llm_pytester.path / 'logs'}",
    )
    result.assert_outcomes(passed=2)
    for mode in ("throughput", "realistic_user"):
        report = _report(llm_pytester, mode)
        assert report["params"]["dataset"] == str(path)
        assert report["summary"]["ok"] >= 1
        assert report["summary"]["failed"] == 0
    assert _report(llm_pytester, "throughput")["summary"]["ok"] == 8


def test_prompt_option_names_the_consistency_prompt(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest_inprocess(
        *SHORT,
        "-m",
        "consistency",
        "--llm-total=2",
        "--llm-prompt=Name a colour.",
        f"--llm-dataset={BUNDLED_DATASET}",
        f"--llm-logs={llm_pytester.path / 'logs'}",
    )
    result.assert_outcomes(passed=1)
    params = _report(llm_pytester, "consistency")["params"]
    assert params["prompt"] == "Name a colour."
    assert params["dataset"] == BUNDLED_DATASET


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (None, "", "no such file"),
        ("empty.jsonl", "", "the file is empty"),
        ("bad.jsonl", '{"prompt": "a"}\n{oops}\n', "line 2 is not valid JSON*"),
        ("none.jsonl", '{"question": "a"}\n', "line 1: has neither 'prompt' nor 'messages'"),
        ("d.yaml", "- a\n", "unknown extension '.yaml' (supported: .jsonl, .json, .csv)"),
        ("d.csv", "question\nwhy?\n", "no 'prompt' column (columns: question)"),
        ("d.json", '[{"conversations": []}]', "no usable prompt in the file"),
    ],
)
def test_a_bad_dataset_stops_the_run_with_one_line(
    llm_pytester: pytest.Pytester, name: str | None, text: str, message: str
) -> None:
    path = llm_pytester.path / (name or "missing.jsonl")
    if name is not None:
        path.write_text(text)
    result = llm_pytester.runpytest_inprocess(*SHORT, "-m", "throughput", f"--llm-dataset={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --llm-dataset: dataset {path}: {message}"])


def test_dataset_from_the_environment_and_empty_prompt(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("prompt\nhello\n")
    settings = Settings.resolve({}, {"LLM_DATASET": str(path)}, {})
    assert settings.stress.dataset == str(path)
    assert Settings.defaults().stress.dataset is None
    assert Settings.resolve({"dataset": "Bundled"}, {}, {}).stress.dataset == BUNDLED_DATASET
    missing = r"^environment variable LLM_DATASET: dataset .*x\.csv: no such file$"
    with pytest.raises(SettingsError, match=missing):
        Settings.resolve({}, {"LLM_DATASET": str(tmp_path / "x.csv")}, {})
    with pytest.raises(SettingsError, match=r"^--llm-prompt: empty \(pass the prompt text\)$"):
        Settings.resolve({"prompt": "  "}, {}, {})
