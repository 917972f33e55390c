"""Records: the JSONL reader (chunks, corrupt lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmserver.stress import iter_records


def test_iter_records_chunks(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    lines = [json.dumps({"i": i}) for i in range(10)]
    lines.insert(4, "   ")
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    chunks = list(iter_records(path, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [r["i"] for c in chunks for r in c] == list(range(10))


def test_iter_records_corrupt_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"i": 1}\n\n{"i": 2\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:3: invalid JSON"):
        list(iter_records(path))
    path.write_text('{"i": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: expected a JSON object, got list"):
        list(iter_records(path))
