"""Short forms in reports: the server as one line, answer excerpts, the options that matter
to what ran, and the baseline file named in the summary."""

from __future__ import annotations

from typing import Any

from pytest_llmserver.report import answers_section, server_summary
from pytest_llmserver.report.brief import (
    excerpt,
    human_bytes,
    relevant_options,
    shown_groups,
    target_line,
)
from pytest_llmserver.report.summary import render_summary

RECORD = {
    "url": "http://user:hunter2@127.0.0.1:8080",
    "type": "ollama",
    "kind": "ollama",
    "models": ["a", "b"],
    "version": "0.12.0",
    "model_info": [
        {"name": "a", "parameter_size": "135M", "quantization": "Q4_1", "size_bytes": 1},
        {"name": "b", "size_bytes": 105_577_965, "quantization": "Q8_0"},
    ],
}


def test_server_summary_is_short_and_redacted() -> None:
    short = server_summary(RECORD, "b")
    assert short == {
        "kind": "ollama",
        "version": "0.12.0",
        "url": "http://user:[redacted]@127.0.0.1:8080",
        "size": "106 MB",
        "quantization": "Q8_0",
    }
    assert server_summary(short, "b") == short
    assert server_summary(RECORD, "a")["size"] == "135M"
    assert human_bytes(0) is None
    assert human_bytes(999) == "999 B"


def test_target_line() -> None:
    target = {
        "url": "http://user:hunter2@h:1",
        "kind": "openai",
        "model": "m",
        "fingerprint": {"server_version": "b1", "size_bytes": 2_000_000_000, "digest": "ab" * 32},
    }
    assert target_line(target) == (
        "openai b1 at http://user:[redacted]@h:1, model `m` (2 GB, digest abababababab)"
    )


def test_excerpt_and_answers_section() -> None:
    assert excerpt("  a\n b  ") == "a b"
    long = excerpt("x" * 500)
    assert len(long) == 200
    assert long.endswith("…")
    lines = answers_section([("T1", 1, "Oslo | 5 °C"), ("T2", 1, "")])
    assert lines[0] == "## Answers"
    assert "| T1 | 1 | Oslo \\| 5 °C |" in lines
    assert "| T2 | 1 | (no answer) |" in lines
    assert answers_section([]) == []


def _doc(**parts: Any) -> dict[str, Any]:
    settings = {
        "server": "sim",
        "concurrency": 4,
        "total": 16,
        "arena_prompts": ["plain"],
        "scan_max_hosts": 1024,
        "regression_threshold": 0.2,
        "save_baseline": None,
    }
    return {"run_id": "r", "settings": settings, **parts}


def test_options_follow_what_ran() -> None:
    groups = {
        "server": "target",
        "concurrency": "run",
        "total": "stress",
        "arena_prompts": "arena",
        "scan_max_hosts": "discovery",
        "regression_threshold": "gate",
    }
    tool_only = _doc(toolbench=[{}])
    assert shown_groups(tool_only) == {"target", "run"}
    assert relevant_options(tool_only["settings"], groups, shown_groups(tool_only)) == {
        "server": "sim",
        "concurrency": 4,
    }
    everything = _doc(stress=[{}], arenas=[{}], comparison={"baseline": "auto"})
    assert shown_groups(everything) == {"target", "run", "stress", "arena", "gate"}
    summary = render_summary(tool_only)
    assert "| options | server=sim, concurrency=4 |" in summary


def test_summary_names_the_baseline_file() -> None:
    comparison = {
        "baseline": "auto",
        "baseline_files": [
            {"path": ".llm-baselines/m-1.json", "found": True},
            {"path": ".llm-baselines/n-2.json", "found": False},
        ],
        "regressions": [],
        "lines": [],
    }
    summary = render_summary(_doc(comparison=comparison))
    assert "Baseline: `.llm-baselines/m-1.json`, `.llm-baselines/n-2.json` (not found)" in summary
    assert "auto" not in summary.split("## Compared with the baseline")[1].split("\n\n")[1]
