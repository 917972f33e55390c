"""summary.md: what it says first."""

from __future__ import annotations

from pytest_llmserver.report.summary import render_summary


def test_summary_says_model_updated_first() -> None:
    text = render_summary(
        {
            "run_id": "r1",
            "comparison": {"baseline": "auto", "model_updated": "a -> b", "lines": ["x"]},
            "settings": {"seed": 3},
            "host": {},
            "errors": ["baseline missing"],
        }
    )
    lines = text.splitlines()
    assert lines[:5] == [
        "# Run r1",
        "",
        "**model updated: a -> b**",
        "",
        "**error: baseline missing**",
    ]
    assert "- x" in lines
