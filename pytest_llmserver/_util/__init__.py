"""Small helpers every package may use: deadline sleep, child-process stop, file-name slugs,
atomic writes, the one redaction policy and a live terminal line."""

from pytest_llmserver._util.deadline import sleep_until_ns
from pytest_llmserver._util.files import atomic_write
from pytest_llmserver._util.markdown import fmt_value, md_cell, md_table
from pytest_llmserver._util.proc import stop_process
from pytest_llmserver._util.progress import ProgressLine, should_show_progress
from pytest_llmserver._util.redact import (
    Redactor,
    redact,
    redact_url,
    without_secrets,
)
from pytest_llmserver._util.text import slug

__all__ = [
    "ProgressLine",
    "Redactor",
    "atomic_write",
    "fmt_value",
    "md_cell",
    "md_table",
    "redact",
    "redact_url",
    "should_show_progress",
    "sleep_until_ns",
    "slug",
    "stop_process",
    "without_secrets",
]
