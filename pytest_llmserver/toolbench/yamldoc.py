"""YAML documents read within bounds: the size of the source, the nesting depth and the alias
expansion are capped while the document is composed (before anything is built from it), and
every mapping and list remembers its line. PyYAML itself (``yamlparse``) is imported when a
document is read."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_EXPANDED = 4 * MAX_FILE_BYTES
MAX_NUMBER_CHARS = 100


class DocumentError(Exception):
    """A problem at one line of a document (1-based; the message is one line)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"{line}: {problem}")
        self.line = line
        self.problem = problem


class Node(dict[Any, Any]):
    """A mapping that remembers its own line and the line of each key (1-based)."""

    def __init__(self, *args: Any, line: int = 0) -> None:
        super().__init__(*args)
        self.line = line
        self.key_lines: dict[Any, int] = {}


class Seq(list[Any]):
    """A list that remembers its own line and the line of each item (1-based)."""

    def __init__(self, items: list[Any], line: int, item_lines: list[int]) -> None:
        super().__init__(items)
        self.line = line
        self.item_lines = item_lines


def load(path: str | Path, text: str | None = None) -> Any:
    """The one document of the file ``path`` (or of ``text``), built from ``Node``, ``Seq`` and
    JSON scalars; ``DocumentError`` if it cannot be read, passes a bound or is not valid YAML."""
    if text is None:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise DocumentError(1, f"cannot read the file: {exc.strerror or exc}") from None
    else:
        raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_FILE_BYTES:
        line = raw[:MAX_FILE_BYTES].count(b"\n") + 1
        raise DocumentError(line, f"the file passes the {MAX_FILE_BYTES}-byte limit here")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DocumentError(line, f"not UTF-8 ({exc.reason} at byte offset {exc.start})") from None
    from pytest_llmserver.toolbench.yamlparse import parse  # PyYAML only when a file is read

    return parse(source)


def plain(value: Any, line: int, where: str) -> Any:
    """A plain JSON copy of a parsed value (string keys, finite numbers); ``DocumentError``
    at the line of the first part JSON cannot carry."""
    if isinstance(value, dict):
        lines = value.key_lines if isinstance(value, Node) else {}
        out = {}
        for key, item in value.items():
            at = lines.get(key, line)
            if not isinstance(key, str):
                raise DocumentError(at, f"{where}: key {key!r:.40} is not a string")
            out[key] = plain(item, at, f"{where}.{key}")
        return out
    if isinstance(value, list):
        lines_of = value.item_lines if isinstance(value, Seq) else [line] * len(value)
        return [
            plain(v, at, f"{where}[{i}]")
            for i, (v, at) in enumerate(zip(value, lines_of, strict=True))
        ]
    if isinstance(value, float) and not math.isfinite(value):
        raise DocumentError(line, f"{where}: {value} is not a finite number")
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise DocumentError(line, f"{where}: a {type(value).__name__} has no JSON form")


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Reader:
    """Typed access to the fields of a parsed document; every error is a ``DocumentError``
    at the line of the offending key or item."""

    def __init__(self, path: str) -> None:
        self.path = path

    @staticmethod
    def error(line: int, message: str) -> DocumentError:
        return DocumentError(line, message)

    @staticmethod
    def line(node: object, key: object = None) -> int:
        """The line of ``node[key]`` (of ``node`` itself when ``key`` is None or unknown)."""
        if isinstance(node, Node):
            return node.key_lines.get(key, node.line)
        if isinstance(node, Seq):
            inside = isinstance(key, int) and 0 <= key < len(node.item_lines)
            return node.item_lines[key] if isinstance(key, int) and inside else node.line
        return 0

    def fail(self, node: object, key: object, message: str) -> DocumentError:
        return self.error(self.line(node, key), message)

    def mapping(self, node: object, where: str, allowed: set[str], line: int) -> Node:
        if not isinstance(node, Node):
            raise self.error(line, f"{where} must be a mapping, got {_kind(node)}")
        for key in node:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(node, key, f"{where}: unknown field '{key}' (allowed: {known})")
        return node

    def get(self, node: Node, key: str, kind: type | tuple[type, ...], where: str) -> Any:
        value = node[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(node, key, f"{where}: field '{key}' must not be a boolean")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(
                node, key, f"{where}: field '{key}' must be {names}, got {_kind(value)}"
            )
        return value

    def opt(
        self, node: Node, key: str, kind: type | tuple[type, ...], where: str, default: Any
    ) -> Any:
        return self.get(node, key, kind, where) if key in node else default

    def items(self, node: Node, key: str, where: str) -> Iterator[tuple[int, Any, int]]:
        """Index, value and line of each item of the optional list field ``key``."""
        values = self.opt(node, key, list, where, [])
        for index, value in enumerate(values):
            yield index, value, values.item_lines[index]

    def strings(self, node: Node, key: str, where: str) -> tuple[str, ...]:
        values = self.opt(node, key, list, where, [])
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.fail(values, index, f"{where}: field '{key}' must be a list of strings")
        return tuple(values)

    def json(self, node: Node, key: str, where: str) -> Any:
        """A plain JSON copy of the field ``key`` (what a model or a tool result may carry)."""
        return plain(node[key], self.line(node, key), f"{where}.{key}")

    def count(self, node: Node, key: str, where: str, low: int, high: int) -> int | None:
        value: int | None = self.opt(node, key, int, where, None)
        if value is not None and not low <= value <= high:
            raise self.fail(node, key, f"{where}: field '{key}' must be in {low}..{high}")
        return value

    def number(self, node: Node, key: str, where: str) -> float:
        value = float(self.opt(node, key, (int, float), where, 0.0))
        if not math.isfinite(value) or value < 0:
            raise self.fail(node, key, f"{where}: field '{key}' must be a finite number >= 0")
        return value
