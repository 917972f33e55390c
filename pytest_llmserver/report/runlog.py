"""The run log: request errors with their context and test summaries, secrets redacted."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_llmserver._util import redact

LOG_NAME = "run.log"


class RedactingFormatter(logging.Formatter):
    """A formatter that redacts secrets from every formatted line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def setup_logger(
    name: str, log_dir: str | Path = "logs", *, secrets: Iterable[str] = ()
) -> logging.Logger:
    """A logger writing to ``<log_dir>/run.log`` with ``secrets`` redacted; calling it again
    for the same name and file adds no second handler. It does not propagate to the root."""
    path = Path(log_dir) / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    target = str(path.resolve())
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename == target:
            return logger
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(RedactingFormatter(secrets))
    logger.addHandler(handler)
    return logger


def close_logger(logger: logging.Logger) -> None:
    """Flush and detach the logger's file handlers."""
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            logger.removeHandler(handler)


_CONTEXT_KEYS = (
    "model",
    "url",
    "index",
    "session_id",
    "turn",
    "http_status",
    "sent_s",
    "e2e_s",
    "output_tokens",
)


def log_request_error(logger: logging.Logger, record: Mapping[str, Any], run_id: str = "") -> None:
    """One line for a failed request: its error class and message, and where it happened."""
    context = " ".join(f"{k}={record[k]}" for k in _CONTEXT_KEYS if record.get(k) is not None)
    where = f"[{run_id}] " if run_id else ""
    logger.error(
        "%srequest failed: %s: %s (%s)",
        where,
        record.get("error_class") or "error",
        record.get("error") or "no message",
        context,
    )


def log_test_summary(logger: logging.Logger, name: str, figures: Mapping[str, Any]) -> None:
    """One line with a test's key figures, e.g. ``throughput c4-n16: ok=16 ttft_p50_s=0.05``."""
    shown = " ".join(f"{k}={_short(v)}" for k, v in figures.items() if v is not None)
    logger.info("%s: %s", name, shown)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
