"""The run log: request errors with their context and test summaries, secrets redacted.

Every line goes through ``RedactingFormatter`` (the given secret values and secret-looking
tokens); the helpers below also redact their own text, so a logger set up elsewhere leaks no
secret either, and a cut never leaves half a secret behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, overload

from pytest_llmserver._util import redact, without_secrets

LOG_NAME = "run.log"

SERVER_TEXT_MAX = 500
"""``log_vllm_error`` keeps at most this many characters of the server's error text."""

SEED_SUMMARY_FIELDS = ("total", "success", "failed", "avg_response_time", "avg_tps")
"""What ``log_test_summary`` reads from a stats object that is not a mapping."""


class RedactingFormatter(logging.Formatter):
    """A formatter that redacts secrets from every formatted line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


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


def _redacted(logger: logging.Logger, text: str) -> str:
    """``text`` redacted with the secrets of the logger's ``RedactingFormatter`` handlers."""
    secrets = [
        secret
        for handler in logger.handlers
        if isinstance(handler.formatter, RedactingFormatter)
        for secret in handler.formatter.secrets
    ]
    return redact(text, secrets)


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


@overload
def log_request_error(
    logger: logging.Logger, record: Mapping[str, Any], run_id: str = ""
) -> None: ...


@overload
def log_request_error(
    logger: logging.Logger,
    request_id: int | str,
    error: BaseException | str,
    context: Mapping[str, Any] | None = None,
) -> None: ...


def log_request_error(logger: logging.Logger, *args: Any, **kwargs: Any) -> None:
    """One ERROR line for a failed request, in either form.

    ``(logger, record, run_id="")``: a stress record (a mapping) gives
    ``[run_id] request failed: <error_class>: <error> (model=... index=...)``.
    ``(logger, request_id, error, context=None)``, the seed's form, gives
    ``request <id> failed: <ErrorType>: <message> (k=v, ...)``; a ``str`` error is the message,
    secret-named context keys are left out.
    """
    first = args[0] if args else kwargs.get("record", kwargs.get("request_id"))
    if isinstance(first, Mapping):
        _log_record_error(logger, *args, **kwargs)
    else:
        _log_failure(logger, *args, **kwargs)


def _log_record_error(logger: logging.Logger, record: Mapping[str, Any], run_id: str = "") -> None:
    context = " ".join(f"{k}={record[k]}" for k in _CONTEXT_KEYS if record.get(k) not in (None, ""))
    where = f"[{run_id}] " if run_id else ""
    logger.error(
        "%s",
        _redacted(
            logger,
            f"{where}request failed: {record.get('error_class') or 'error'}: "
            f"{record.get('error') or 'no message'} ({context})",
        ),
    )


def _log_failure(
    logger: logging.Logger,
    request_id: int | str,
    error: BaseException | str,
    context: Mapping[str, Any] | None = None,
) -> None:
    if isinstance(error, BaseException):
        message = str(error)
        what = f"{type(error).__name__}: {message}" if message else type(error).__name__
    else:
        what = str(error) or "no message"
    shown = without_secrets(dict(context or {}))
    pairs = [f"{key}={value}" for key, value in shown.items() if value is not None]
    where = f" ({', '.join(pairs)})" if pairs else ""
    logger.error("%s", _redacted(logger, f"request {request_id} failed: {what}{where}"))


def log_vllm_error(logger: logging.Logger, request_id: int | str, response_text: str) -> None:
    """One ERROR line with the server's error text for a request (the seed's name), on one line,
    redacted, and cut to ``SERVER_TEXT_MAX`` characters."""
    text = _redacted(logger, " ".join(str(response_text).split())) or "(empty response)"
    if len(text) > SERVER_TEXT_MAX:
        text = f"{text[: SERVER_TEXT_MAX - 1]}…"
    logger.error("%s", f"request {request_id}: server error: {text}")


def log_test_summary(logger: logging.Logger, mode: str, stats: object) -> None:
    """One INFO line with a test's scalar figures, e.g. ``throughput c4-n16: ok=16
    ttft_p50_s=0.05``; ``mode`` names the test. ``stats`` is a mapping (the seed passed
    ``asdict(stats)``) or an object with the seed's attributes (``SEED_SUMMARY_FIELDS``);
    ``None`` and nested values are left out."""
    if isinstance(stats, Mapping):
        items = list(stats.items())
    else:
        items = [(key, getattr(stats, key, None)) for key in SEED_SUMMARY_FIELDS]
    shown = " ".join(
        f"{key}={_short(value)}"
        for key, value in items
        if isinstance(value, (str, int, float))  # bool is an int
    )
    logger.info("%s", _redacted(logger, f"{mode}: {shown}"))


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
