"""The run log's seed forms: request errors, server error text and test summaries, redacted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from pytest_llmserver._util import redact
from pytest_llmserver.report import (
    close_logger,
    log_request_error,
    log_test_summary,
    log_vllm_error,
    setup_logger,
)
from pytest_llmserver.report.runlog import SERVER_TEXT_MAX

SECRET = "hunter2-not-a-real-key"


@pytest.fixture
def logger(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    made = setup_logger(f"test-runlog-{request.node.name}", tmp_path, secrets=[SECRET])
    yield made
    close_logger(made)


def lines(logger: logging.Logger, tmp_path: Path) -> list[str]:
    """The log file's lines without the time stamp, after flushing the handlers."""
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / "run.log").read_text(encoding="utf-8")
    return [line.split(" ", 2)[2] for line in text.splitlines()]


def test_seed_form_of_log_request_error(logger: logging.Logger, tmp_path: Path) -> None:
    log_request_error(
        logger,
        7,
        TimeoutError(f"no first token within 5 s (key {SECRET})"),
        {"model": "m", "url": "http://127.0.0.1:8000/v1", "attempt": None, "api_key": "abc123"},
    )
    log_request_error(logger, "r-2", "HTTP 500 from the server")
    log_request_error(logger, request_id=3, error=ConnectionResetError(), context={"turn": 2})
    assert lines(logger, tmp_path) == [
        f"ERROR {logger.name}: request 7 failed: TimeoutError: no first token within 5 s "
        "(key [redacted]) (model=m, url=http://127.0.0.1:8000/v1)",
        f"ERROR {logger.name}: request r-2 failed: HTTP 500 from the server",
        f"ERROR {logger.name}: request 3 failed: ConnectionResetError (turn=2)",
    ]


def test_record_form_of_log_request_error(logger: logging.Logger, tmp_path: Path) -> None:
    record = {"error_class": "timeout", "error": f"slow {SECRET}", "index": 4, "turn": None}
    log_request_error(logger, record, "c2-n4")
    log_request_error(logger, record=record)
    log_request_error(logger, {})
    assert lines(logger, tmp_path) == [
        f"ERROR {logger.name}: [c2-n4] request failed: timeout: slow [redacted] (index=4)",
        f"ERROR {logger.name}: request failed: timeout: slow [redacted] (index=4)",
        f"ERROR {logger.name}: request failed: error: no message ()",
    ]


def test_log_vllm_error_is_one_redacted_line_cut_short(
    logger: logging.Logger, tmp_path: Path
) -> None:
    log_vllm_error(logger, 5, '{"error": {"message": "model not found",\n "code": 404}}\n')
    log_vllm_error(logger, 6, "Authorization: Bearer sk-abcdefghijklmnop was refused")
    log_vllm_error(logger, 7, "")
    # the configured secret straddles the cut: it is redacted before the text is cut
    long_text = "x" * (SERVER_TEXT_MAX - 5) + SECRET + "y" * 2000
    log_vllm_error(logger, 8, long_text)
    first, second, third, fourth = lines(logger, tmp_path)
    assert first == (
        f'ERROR {logger.name}: request 5: server error: {{"error": {{"message": '
        '"model not found", "code": 404}}'
    )
    assert second == (
        f"ERROR {logger.name}: request 6: server error: Authorization: [redacted] "
        "[redacted] was refused"
    )
    assert third == f"ERROR {logger.name}: request 7: server error: (empty response)"
    text = fourth.split("server error: ", 1)[1]
    assert len(text) == SERVER_TEXT_MAX
    assert text == "x" * (SERVER_TEXT_MAX - 5) + "[red…"
    assert "hunter" not in fourth


@dataclass
class SeedStats:
    """The seed's stats object: the five figures the summary line shows, and more."""

    total: int = 10
    success: int = 9
    failed: int = 1
    avg_response_time: float = 0.123456
    avg_tps: float = 42.0
    avg_ttft: float = 0.05
    errors: list[str] = field(default_factory=lambda: ["request 3 failed: timeout"])
    notes: str = ""


class SeedView:
    """An object with only some of the seed's attributes."""

    total = 2
    success = 2
    avg_response_time = None


def test_log_test_summary_takes_a_mapping_or_seed_stats(
    logger: logging.Logger, tmp_path: Path
) -> None:
    log_test_summary(logger, "throughput", SeedStats())
    log_test_summary(logger, "burst", SeedView())
    log_test_summary(logger, "seed dict", asdict(SeedStats()))
    log_test_summary(logger, "ours", {"ok": 3, "nested": {"a": 1}, "none": None, "key": SECRET})
    log_test_summary(logger, mode="keywords", stats={"ok": True, "ratio": 0.5, "list": [1]})
    assert lines(logger, tmp_path) == [
        f"INFO {logger.name}: throughput: total=10 success=9 failed=1 "
        "avg_response_time=0.1235 avg_tps=42",
        f"INFO {logger.name}: burst: total=2 success=2",
        f"INFO {logger.name}: seed dict: total=10 success=9 failed=1 "
        "avg_response_time=0.1235 avg_tps=42 avg_ttft=0.05 notes=",
        f"INFO {logger.name}: ours: ok=3 key=[redacted]",
        f"INFO {logger.name}: keywords: ok=True ratio=0.5",
    ]


def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    secrets = [SECRET, "sk-abcdefghijklmnop", "topsecretvalue"]
    logger = setup_logger("test-runlog-secrets", tmp_path, secrets=[SECRET])
    log_request_error(logger, 1, ValueError(f"{SECRET} Bearer sk-abcdefghijklmnop"))
    log_request_error(logger, 2, "refused", {"password": "topsecretvalue", "x": SECRET})
    log_request_error(logger, {"error": f"api_key=topsecretvalue {SECRET}"}, "id")
    log_vllm_error(logger, 3, f'{{"api_key": "topsecretvalue", "echo": "{SECRET}"}}')
    log_test_summary(logger, f"name {SECRET}", {"token": "api_key=topsecretvalue"})
    close_logger(logger)
    text = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 5
    assert text.count("[redacted]") >= 7
    for secret in secrets:
        assert secret not in text


def test_helpers_redact_on_a_logger_set_up_elsewhere(caplog: pytest.LogCaptureFixture) -> None:
    plain = logging.getLogger("test-runlog-plain")
    with caplog.at_level(logging.INFO, logger="test-runlog-plain"):
        log_request_error(plain, 1, "Bearer sk-abcdefghijklmnop refused", {"api_key": "abc"})
        log_vllm_error(plain, 2, "token: abc123def")
    assert [r.getMessage() for r in caplog.records] == [
        "request 1 failed: Bearer [redacted] refused",
        "request 2: server error: token: [redacted]",
    ]


def test_runlog_redacts_keys_and_gives_context(tmp_path: Path) -> None:
    logger = setup_logger("test-runlog", tmp_path, secrets=["hunter2-secret"])
    assert setup_logger("test-runlog", tmp_path) is logger
    assert len(logger.handlers) == 1  # no second handler for the same file
    log_request_error(
        logger,
        {
            "error_class": "http_status",
            "error": "401 from http://h/v1 (Authorization: Bearer sk-abcdefghijklmnop) "
            "key hunter2-secret api_key=topsecret",
            "index": 7,
            "url": "http://h/v1/chat/completions",
        },
        "c8-n16",
    )
    log_test_summary(logger, "throughput c8", {"ok": 3, "ttft_p50_s": 0.0512345, "x": None})
    close_logger(logger)
    text = (tmp_path / "run.log").read_text()
    assert "[c8-n16] request failed: http_status: 401" in text
    assert "(url=http://h/v1/chat/completions index=7)" in text
    assert "throughput c8: ok=3 ttft_p50_s=0.05123" in text
    for secret in ("sk-abcdefghijklmnop", "hunter2-secret", "topsecret"):
        assert secret not in text
    assert redact("token: abc123 and sk-12345678901") == "token: [redacted] and sk-[redacted]"
    assert not logging.getLogger("test-runlog").handlers
