"""Records: the schema (every field documented, read back unchanged), the seed's names of a
result, the JSONL writer and readers (chunks, corrupt lines)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver._util import Redactor
from pytest_llmserver.client import ChatMetrics
from pytest_llmserver.stress import (
    RECORD_FIELDS,
    JsonlSink,
    TestResult,
    iter_records,
    read_records,
    read_results,
    run_records,
)


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


def test_read_records_strict_or_skipping(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"i": 1}\nnot json\n\n[1]\n{"i": 2, "t": "x"}\n')
    with pytest.raises(ValueError, match=r"mixed\.jsonl:2: invalid JSON"):
        list(read_records(path))
    path.write_bytes(path.read_bytes().replace(b'"x"', b'"\xff"'))
    kept = list(read_records(path, skip_invalid=True))
    assert [r["i"] for r in kept] == [1, 2]
    assert kept[1]["t"] == "\ufffd"  # undecodable bytes replaced, not fatal


def sample_result(**fields: Any) -> TestResult:
    metrics = ChatMetrics(
        model="m",
        ttft_s=0.25,
        e2e_s=1.5,
        itl_s=[0.01, 0.02],
        decode_tps=42.0,
        prompt_tokens=12,
        prompt_tokens_source="usage",
        output_tokens=30,
    )
    base: dict[str, Any] = {
        "index": 7,
        "warmup": False,
        "scheduled_s": 1.0,
        "sent_s": 1.25,
        "end_s": 2.75,
        "ok": True,
        "session_id": 3,
        "turn": 2,
        "metrics": metrics,
    }
    base.update(fields)
    return TestResult(**base)


def test_every_record_field_is_documented() -> None:
    names = [name for name, _ in RECORD_FIELDS]
    assert len(names) == len(set(names))
    assert set(names) == set(sample_result().to_record())
    assert all(meaning for _, meaning in RECORD_FIELDS)


def test_a_record_read_back_is_the_same_result(tmp_path: Path) -> None:
    results = [
        sample_result(),
        sample_result(index=-1, warmup=True, scheduled_s=None, turn=None, session_id=None),
        sample_result(
            index=8,
            ok=False,
            error_class="timeout",
            error="no data for 5 s",
            task_id="Q01",
            step=0,
            sent_s=None,
            end_s=None,
            metrics=ChatMetrics(ttft_s=0.5),
        ),
    ]
    path = tmp_path / "r.jsonl"
    with JsonlSink(path) as sink:
        for result in results:
            sink.write(result.to_record())
    assert sink.count == 3
    record = next(read_records(path))
    assert record["queue_s"] == pytest.approx(0.25)
    assert [TestResult.from_record(r) for r in read_records(path)] == results
    assert read_results(path) == [results[0], results[2]]  # warm-up left out
    assert read_results(path, warmup=True) == results


def test_from_record_ignores_unknown_keys_and_needs_index_and_ok() -> None:
    record = {**sample_result().to_record(), "shard": 1, "future_field": "x"}
    assert TestResult.from_record(record) == sample_result()
    bare = TestResult.from_record({"index": 0, "ok": False})
    assert (bare.warmup, bare.sent_s, bare.metrics) == (False, None, ChatMetrics())
    with pytest.raises(ValueError, match="record lacks index"):
        TestResult.from_record({"ok": True})
    with pytest.raises(ValueError, match="record lacks ok"):
        TestResult.from_record({"index": 1})


def test_seed_names_of_a_result() -> None:
    ok = sample_result()
    assert (ok.request_id, ok.status, ok.error_msg) == (7, "success", "")
    assert (ok.duration, ok.ttft, ok.decode_tps) == (1.5, 0.25, 42.0)
    assert (ok.prompt_tokens, ok.completion_tokens, ok.turn_number) == (12, 30, 3)
    failed = sample_result(ok=False, error="refused", turn=None, metrics=ChatMetrics())
    assert (failed.status, failed.error_msg, failed.turn_number) == ("error", "refused", 0)
    assert (failed.duration, failed.ttft, failed.decode_tps, failed.prompt_tokens) == (0, 0, 0, 0)
    assert failed.completion_tokens == 0
    assert sample_result(scheduled_s=None).queue_s is None


def test_the_sink_flushes_each_record_and_redacts_it(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    seen: list[dict[str, Any]] = []
    redactor = Redactor(secrets=["KEY-123"], urls=["http://u:PW-9@127.0.0.1:8"])
    sink = JsonlSink(path, lambda record, _: seen.append(record), redactor=redactor)
    sink.write({"index": 0, "error": "HTTP 401: bad key KEY-123", "url": "http://u:PW-9@h/v1"})
    # Readable before close: a process killed now keeps its finished records.
    text = path.read_text(encoding="utf-8")
    assert text == '{"index": 0, "error": "HTTP 401: bad key [redacted]", "url": ' + (
        '"http://u:[redacted]@h/v1"}\n'
    )
    assert seen == [json.loads(text)]
    sink.close()
    sink.close()  # closing again does nothing
    assert path.read_text(encoding="utf-8") == text


def test_run_records_joins_a_runs_parts_on_one_clock(tmp_path: Path) -> None:
    """A sweep's points each start their own clock; their send stamps put them on one."""
    main = tmp_path / "stress-sweep.jsonl"
    parts = tmp_path / "stress-sweep.points"
    parts.mkdir()

    def write(path: Path, records: list[dict[str, object]]) -> None:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))

    warm: dict[str, object] = {"index": -1, "ok": True, "warmup": True, "sent_s": 0.1}
    warm["t_send_ns"] = 10_100_000_000
    write(main, [warm, {"index": 0, "ok": True, "sent_s": 0.5, "t_send_ns": 10_500_000_000}])
    write(
        parts / "01-a.jsonl", [{"index": 0, "ok": True, "sent_s": 0.5, "t_send_ns": 10_500_000_000}]
    )
    write(
        parts / "02-b.jsonl",
        [{"index": 0, "ok": True, "sent_s": 1.0, "end_s": 2.0, "t_send_ns": 21_000_000_000}],
    )
    records = run_records(main)
    assert [r["sent_s"] for r in records] == [0.1, 0.5, 11.0]  # b's began 10 s after a's
    assert records[2]["end_s"] == 12.0
    assert records[0]["warmup"]  # the run's warm-up, from its own file; a's copy is not twice
    assert run_records(tmp_path / "stress-other.jsonl") == []
    write(tmp_path / "stress-one.jsonl", [{"index": 3, "ok": False}])
    assert run_records(tmp_path / "stress-one.jsonl") == [{"index": 3, "ok": False}]
