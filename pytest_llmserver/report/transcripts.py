"""Saved chat transcripts: one JSON file per conversation in a history directory. A save is
fsynced, then renamed to a name found free; ``atomic_write`` has neither step. Size and nesting
are bounded: a save refuses what a read skips."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_llmserver._util import redact_url, without_secrets
from pytest_llmserver.report.filenames import claim, named, stamped
from pytest_llmserver.report.jsonbounds import deeper_than, read_file

__all__ = [
    "FORMAT",
    "VERSION",
    "ChatHistoryManager",
    "HistoryError",
    "HistoryWarning",
    "TranscriptInfo",
]

FORMAT = "pytest-llmserver/transcript"
VERSION = 1
ENV_DIR = "LLM_HISTORY_DIR"
SUFFIX = ".json"
TEMP_PREFIX = ".tmp-"
TITLE_MAX = 80
SLUG_MAX = 40
_NAME_MAX = 255
MAX_FILE_BYTES = 16 << 20
MAX_DEPTH = 100  # of one message, of ``extra`` and of a server record
_DOC_DEPTH = MAX_DEPTH + 2  # the document holds messages in a list
_DRIVE = re.compile(r"^[A-Za-z]:")
_REQUIRED = dict(saved_at=str, model=str, server=str, title=str, tags=list, messages=list)


class HistoryError(ValueError):
    """A transcript name, path or size that is refused."""


class HistoryWarning(UserWarning):
    """A file in the history directory that is not a readable transcript."""


@dataclass(frozen=True)
class TranscriptInfo:
    """The summary of one saved transcript."""

    filename: str
    saved_at: str
    model: str
    server: str
    title: str
    messages: int
    tags: tuple[str, ...]


class ChatHistoryManager:
    """Save, list, search, load and delete transcripts in one directory."""

    def __init__(self, directory: str | Path | None = None) -> None:
        if directory is None:
            env = os.environ.get(ENV_DIR, "")
            directory = Path(env) if env else Path.cwd() / "logs" / "history"
        self._directory = Path(directory).expanduser().absolute()

    @property
    def directory(self) -> Path:
        """The history directory (absolute; it may not exist yet)."""
        return self._directory

    def save(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        server: str | Mapping[str, Any] | None = None,
        *,
        tags: Sequence[str] = (),
        extra: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> str:
        """Write one transcript atomically; return its file name: ``name`` made safe (a
        number added when taken), or a time stamp and the model."""
        if not isinstance(model, str):
            raise TypeError(f"model must be a str, not {type(model).__name__}")
        plain = _plain_messages(messages)
        tag_list = _tag_list(tags)
        url, record = _server_parts(server)
        extra_doc = _json_copy(dict(extra or {}), "extra")
        now = datetime.now(timezone.utc)
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "saved_at": now.isoformat(timespec="microseconds"),
            "model": model,
            "server": url,
        }
        if record is not None:
            doc["server_record"] = record
        doc.update(tags=tag_list, title=_title(plain), messages=plain, extra=extra_doc)
        data = (json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode()
        if len(data) > MAX_FILE_BYTES:
            raise HistoryError(f"transcript of {len(data)} bytes, over {MAX_FILE_BYTES}")
        self._directory.mkdir(parents=True, exist_ok=True)
        return self._write_new(data, now, model, name)

    def load(self, filename: str) -> dict[str, Any]:
        """The whole document of the transcript ``filename``."""
        path = self._path(filename)
        try:
            doc = _check_doc(_read_doc(path))
        except _NotTranscript as exc:
            raise HistoryError(f"{filename!r} is not a saved transcript: {exc}") from None
        return doc

    def list_all(self) -> list[TranscriptInfo]:
        """Every readable transcript, newest first."""
        return _newest_first(info for info, _ in self._scan())

    def search(
        self, query: str, *, model: str | None = None, tag: str | None = None
    ) -> list[TranscriptInfo]:
        """Transcripts whose text, title, model or tags hold ``query`` (any case), newest first."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, not {type(query).__name__}")
        needle = query.casefold()
        found = []
        for info, doc in self._scan():
            if model is not None and info.model != model:
                continue
            if tag is not None and tag not in info.tags:
                continue
            if any(needle in text.casefold() for text in _haystack(info, doc)):
                found.append(info)
        return _newest_first(found)

    def delete(self, filename: str) -> None:
        """Remove the transcript ``filename``."""
        path = self._path(filename)
        os.unlink(path)

    def _path(self, filename: str) -> Path:
        """The path of an existing-or-not transcript file; refuse anything unsafe."""
        _check_name(filename)
        path = self._directory / filename
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            raise FileNotFoundError(f"no transcript {filename!r} in {self._directory}") from None
        if stat.S_ISLNK(mode):
            raise HistoryError(f"{filename!r} is a symlink, not a transcript")
        if not stat.S_ISREG(mode):
            raise HistoryError(f"{filename!r} is not a regular file")
        if path.resolve().parent != self._directory.resolve():
            raise HistoryError(f"{filename!r} is not directly inside {self._directory}")
        return path

    def _write_new(self, data: bytes, now: datetime, model: str, wanted: str | None) -> str:
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=self._directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            names = named(wanted, SUFFIX) if wanted else stamped(now, model, SUFFIX, SLUG_MAX)
            name = next(n for n in names if claim(temp, self._directory / n))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return name

    def _scan(self) -> Iterator[tuple[TranscriptInfo, dict[str, Any]]]:
        try:
            entries = sorted(os.scandir(self._directory), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if not _ours(entry):
                continue
            try:
                doc = _check_doc(_read_doc(Path(entry.path)))
            except FileNotFoundError:
                continue
            except (_NotTranscript, OSError) as exc:
                warnings.warn(HistoryWarning(f"skipped {entry.name!r}: {exc}"), stacklevel=2)
                continue
            yield _info(entry.name, doc), doc


class _NotTranscript(Exception):
    """A file's content is not a transcript (the message says why)."""


def _check_name(name: object) -> None:
    """Raise ``HistoryError`` unless ``name`` is a plain transcript file name."""
    if not isinstance(name, str):
        raise HistoryError(f"a transcript name must be a str, not {type(name).__name__}")
    if not name:
        raise HistoryError("empty transcript name")
    if "/" in name or "\\" in name:
        raise HistoryError(f"transcript name {name!r} contains a path separator")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in name):
        raise HistoryError(f"transcript name {name!r} contains a control character")
    if name.startswith("."):
        raise HistoryError(f"transcript name {name!r} starts with '.'")
    if _DRIVE.match(name) or ":" in name:
        raise HistoryError(f"transcript name {name!r} contains ':' (drive or stream)")
    if not name.endswith(SUFFIX) or name == SUFFIX:
        raise HistoryError(f"transcript name {name!r} does not end in {SUFFIX!r}")
    if len(name.encode("utf-8", "surrogateescape")) > _NAME_MAX:
        raise HistoryError(f"transcript name {name[:40]!r}... is too long")


def _ours(entry: os.DirEntry[str]) -> bool:
    """Whether a directory entry is a candidate transcript (silently skip the rest)."""
    try:
        _check_name(entry.name)
        return entry.is_file(follow_symlinks=False)
    except (HistoryError, OSError):
        return False


def _read_doc(path: Path) -> Any:
    """The parsed JSON of ``path`` within the size and depth bounds."""
    try:
        return read_file(path, MAX_FILE_BYTES, _DOC_DEPTH)
    except ValueError as exc:
        raise _NotTranscript(str(exc)) from None


def _check_doc(doc: Any) -> dict[str, Any]:
    """``doc`` itself; ``_NotTranscript`` unless it has the shape ``save`` writes."""
    if not isinstance(doc, dict):
        raise _NotTranscript(f"a JSON {type(doc).__name__}, not an object")
    if doc.get("format") != FORMAT:
        raise _NotTranscript(f"format is {doc.get('format')!r}, not {FORMAT!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise _NotTranscript(f"unsupported version {version!r}")
    for key, kind in _REQUIRED.items():
        if not isinstance(doc.get(key), kind):
            raise _NotTranscript(f"field {key!r} is missing or not a {kind.__name__}")
    if not all(isinstance(t, str) for t in doc["tags"]):
        raise _NotTranscript("field 'tags' holds a non-string")
    if not all(isinstance(m, dict) for m in doc["messages"]):
        raise _NotTranscript("field 'messages' holds a non-object")
    if _parse_time(doc["saved_at"]) is None:
        raise _NotTranscript(f"saved_at {doc['saved_at']!r} is not an ISO 8601 time")
    return doc


def _info(filename: str, doc: dict[str, Any]) -> TranscriptInfo:
    return TranscriptInfo(
        filename=filename,
        saved_at=doc["saved_at"],
        model=doc["model"],
        server=doc["server"],
        title=doc["title"],
        messages=len(doc["messages"]),
        tags=tuple(doc["tags"]),
    )


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _newest_first(infos: Iterable[TranscriptInfo]) -> list[TranscriptInfo]:
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(
        infos,
        key=lambda i: (_parse_time(i.saved_at) or epoch, i.filename),
        reverse=True,
    )


def _json_copy(value: Any, what: str) -> Any:
    """A plain JSON copy of ``value``; ``TypeError`` naming ``what`` if it has no JSON form or
    nests deeper than ``MAX_DEPTH``."""
    if deeper_than(value, MAX_DEPTH):
        raise TypeError(f"{what} nests deeper than {MAX_DEPTH} levels (or holds itself)")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} is not JSON-serialisable: {exc}") from None


def _plain_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(messages, (str, bytes, Mapping)):
        raise TypeError("messages must be a sequence of message mappings")
    plain = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(f"message {index} is a {type(message).__name__}, not a mapping")
        plain.append(_json_copy(dict(message), f"message {index}"))
    return plain


def _tag_list(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise TypeError("tags must be a sequence of str, not a single str")
    out = list(tags)
    for tag in out:
        if not isinstance(tag, str):
            raise TypeError(f"tag {tag!r} is not a str")
    return out


def _server_parts(
    server: str | Mapping[str, Any] | None,
) -> tuple[str, dict[str, Any] | None]:
    """The URL to store and, for a record, its secret-free copy."""
    if server is None:
        return "", None
    if isinstance(server, str):
        return redact_url(server), None
    if not isinstance(server, Mapping):
        raise TypeError(
            f"server must be a URL, a mapping with 'url' or None, not {type(server).__name__}"
        )
    if deeper_than(server, MAX_DEPTH):  # before without_secrets walks it
        raise TypeError(f"server record nests deeper than {MAX_DEPTH} levels (or holds itself)")
    record = _json_copy(without_secrets(server), "server record")
    url = record.get("url")
    url = redact_url(url) if isinstance(url, str) else ""
    if "url" in record:
        record["url"] = url
    return url, record


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                yield part
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]
    elif content is not None:
        yield json.dumps(content, ensure_ascii=False)


def _title(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") != "user":
            continue
        text = " ".join(" ".join(_texts(message.get("content"))).split())
        if text:
            return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1].rstrip() + "…"
    return ""


def _haystack(info: TranscriptInfo, doc: dict[str, Any]) -> Iterator[str]:
    yield info.title
    yield info.model
    yield from info.tags
    for message in doc["messages"]:
        yield from _texts(message.get("content"))
        for key in ("name", "tool_name"):
            if isinstance(message.get(key), str):
                yield message[key]
        calls = message.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if not isinstance(call, dict):
                continue
            inner = call.get("function")
            function: dict[str, Any] = inner if isinstance(inner, dict) else call
            for key in ("name", "arguments"):
                value = function.get(key)
                if isinstance(value, str):
                    yield value
                elif value is not None:
                    yield json.dumps(value, ensure_ascii=False)
