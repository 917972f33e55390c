"""Users' own prompts for the stress modes: JSONL, ShareGPT-format JSON or CSV, read within
bounds and sampled with the run's seed; ``bundled`` names our own set (short, medium, long
and multi-turn rows).

Rules: a JSONL line (or JSON list item) holds ``prompt`` (text) or ``messages`` (chat list
ending in user turns; trailing assistant turns are dropped), optional ``output_tokens``
(the request's ``max_tokens``). A ShareGPT item holds ``conversations`` of ``{"from":
"human"|"gpt"|"system", "value": ...}``; items without a human turn are skipped, as real
ShareGPT dumps have them. A CSV has a ``prompt`` column (optional ``output_tokens``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmserver.client import ChatResponse, ModelClient
    from pytest_llmserver.stress.modes.base import TesterBase

MAX_BYTES = 64 * 1024 * 1024
"""A dataset file larger than this is refused (read within bounds)."""

MAX_ROWS = 100_000
"""At most this many rows are read; the rest of a larger file is left out."""

FORMATS = (".jsonl", ".json", ".csv")
BUNDLED_DATASET = "bundled"
"""The ``--llm-dataset`` value naming our own set, shipped with the package."""

_BUNDLED_PATH = Path(__file__).parent / "data" / "prompts.jsonl"
_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}
_ROLES.update(system="system")


class DatasetError(ValueError):
    """A dataset that cannot be used; the message is one line naming the file and the fault."""


@dataclass(frozen=True)
class PromptRow:
    """One dataset row: the user ``text`` to send after ``history`` (earlier chat messages),
    and the reply length it asks for (None: the run's ``max_tokens``)."""

    text: str
    history: tuple[dict[str, str], ...] = ()
    output_tokens: int | None = None

    @property
    def script(self) -> tuple[str, ...]:
        """The row's user turns in order (a multi-turn row as a session script)."""
        earlier = [m["content"] for m in self.history if m["role"] == "user"]
        return (*earlier, self.text)


@dataclass(frozen=True)
class Dataset:
    """The rows of one dataset, and where they came from."""

    name: str
    rows: tuple[PromptRow, ...]

    def order(self, seed: int | str) -> list[int]:
        """Row indices in the order a run with ``seed`` uses them: every row once per pass,
        shuffled (deterministic for a seed)."""
        indices = list(range(len(self.rows)))
        random.Random(f"dataset/{seed}").shuffle(indices)
        return indices

    def pick(self, rng: random.Random) -> PromptRow:
        """A row drawn with ``rng``."""
        return self.rows[rng.randrange(len(self.rows))]


def load_dataset(source: str | Path) -> Dataset:
    """Read the dataset at ``source`` (or ``bundled``); ``DatasetError`` on any fault."""
    if str(source) == BUNDLED_DATASET:
        return _load(_BUNDLED_PATH, BUNDLED_DATASET)
    return _load(Path(source).expanduser(), str(source))


def bundled_dataset() -> Dataset:
    """Our own set: short, medium, long and multi-turn prompts."""
    return load_dataset(BUNDLED_DATASET)


def _load(path: Path, name: str) -> Dataset:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DatasetError(
            f"dataset {name}: unknown extension {suffix or '(none)'!r} "
            f"(supported: {', '.join(FORMATS)})"
        )
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DatasetError(f"dataset {name}: not a file")
        if size > MAX_BYTES:
            raise DatasetError(
                f"dataset {name}: {size:,} bytes is over the {MAX_BYTES:,}-byte limit"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"dataset {name}: no such file") from None
    except OSError as exc:
        raise DatasetError(f"dataset {name}: cannot read it ({exc.strerror or exc})") from None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"dataset {name}: not UTF-8 text") from None
    if not content.strip():
        raise DatasetError(f"dataset {name}: the file is empty")
    reader = {".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows}[suffix]
    try:
        rows = tuple(row for _, row in zip(range(MAX_ROWS), reader(content), strict=False))
    except DatasetError as exc:
        raise DatasetError(f"dataset {name}: {exc}") from None
    if not rows:
        raise DatasetError(f"dataset {name}: no usable prompt in the file")
    return Dataset(name, rows)


def _jsonl_rows(content: str) -> Iterable[PromptRow]:
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            raise DatasetError(f"line {number} is not valid JSON ({msg})") from None
        yield _row(item, f"line {number}")


def _json_rows(content: str) -> Iterable[PromptRow]:
    try:
        items = json.loads(content)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        raise DatasetError(f"not valid JSON{where} ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(items, list):
        raise DatasetError("a .json dataset must be a list (ShareGPT format or prompt rows)")
    for number, item in enumerate(items, 1):
        if isinstance(item, dict) and "conversations" in item:
            row = _sharegpt_row(item, f"item {number}")
            if row is not None:
                yield row
        else:
            yield _row(item, f"item {number}")


def _csv_rows(content: str) -> Iterable[PromptRow]:
    reader = csv.DictReader(io.StringIO(content, newline=""))
    fields = [name.strip() for name in reader.fieldnames or ()]
    if "prompt" not in fields:
        raise DatasetError(f"no 'prompt' column (columns: {', '.join(fields) or 'none'})")
    reader.fieldnames = fields
    try:
        for number, record in enumerate(reader, 2):
            tokens = (record.get("output_tokens") or "").strip()
            item: dict[str, Any] = {"prompt": record.get("prompt") or ""}
            if tokens:
                try:
                    item["output_tokens"] = int(tokens)
                except ValueError:
                    item["output_tokens"] = tokens
            yield _row(item, f"row {number}")
    except csv.Error as exc:
        raise DatasetError(f"not valid CSV near row {reader.line_num} ({exc})") from None


def _row(item: object, where: str) -> PromptRow:
    """A ``prompt`` or ``messages`` row, checked."""
    if not isinstance(item, dict):
        raise DatasetError(f"{where}: expected an object with 'prompt' or 'messages'")
    tokens = _output_tokens(item.get("output_tokens"), where)
    if "prompt" in item:
        text = item["prompt"]
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{where}: 'prompt' must be non-empty text")
        return PromptRow(text, (), tokens)
    if "messages" in item:
        return _chat(item["messages"], where, tokens)
    raise DatasetError(f"{where}: has neither 'prompt' nor 'messages'")


def _chat(messages: object, where: str, tokens: int | None) -> PromptRow:
    """A chat list as a row: trailing assistant turns dropped, the last user turn sent."""
    if not isinstance(messages, list) or not messages:
        raise DatasetError(f"{where}: 'messages' must be a non-empty list")
    checked: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise DatasetError(
                f"{where}: each message needs a role (system, user or assistant) and text content"
            )
        checked.append({"role": role, "content": content})
    while checked and checked[-1]["role"] != "user":
        checked.pop()
    if not checked or not checked[-1]["content"].strip():
        raise DatasetError(f"{where}: no user message with text")
    return PromptRow(checked[-1]["content"], tuple(checked[:-1]), tokens)


def _sharegpt_row(item: dict[str, Any], where: str) -> PromptRow | None:
    """A ShareGPT conversation as chat messages; None when it has no human turn."""
    turns = item["conversations"]
    if not isinstance(turns, list):
        raise DatasetError(f"{where}: 'conversations' must be a list")
    messages: list[dict[str, str]] = []
    for turn in turns:
        role = _ROLES.get(str(turn.get("from", "")).lower()) if isinstance(turn, dict) else None
        value = turn.get("value") if isinstance(turn, dict) else None
        if role is not None and isinstance(value, str):
            messages.append({"role": role, "content": value})
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        return None
    return _chat(messages, where, _output_tokens(item.get("output_tokens"), where))


def _output_tokens(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DatasetError(f"{where}: 'output_tokens' must be a whole number >= 1, got {value!r}")
    return value


def dataset_sender(
    tester: TesterBase, client: ModelClient, dataset: Dataset, max_tokens: int | None = None
) -> Callable[[int], Awaitable[ChatResponse]]:
    """Sends request ``index`` with a row of ``dataset`` in the tester's seeded order, salted
    (a row's ``output_tokens`` is that request's ``max_tokens``)."""
    order = dataset.order(tester.seed)

    async def send(index: int) -> ChatResponse:
        row = dataset.rows[order[index % len(order)]]
        limit = row.output_tokens if row.output_tokens is not None else max_tokens
        return await tester.send_shaped(client, row.text, index, limit, row.history)

    return send
