"""The seed's module name for saved chat transcripts; they live in ``pytest_llmserver.report``."""

from pytest_llmserver.report import (
    FORMAT,
    VERSION,
    ChatHistoryManager,
    HistoryError,
    HistoryWarning,
    TranscriptInfo,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "ChatHistoryManager",
    "HistoryError",
    "HistoryWarning",
    "TranscriptInfo",
]
