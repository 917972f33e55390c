"""The PyYAML side of ``yamldoc``: a safe loader that counts depth and alias expansion while it
composes, and builds ``Node`` / ``Seq`` with their lines (imported when a document is read)."""

from __future__ import annotations

from typing import Any, NoReturn

import yaml
from yaml.constructor import ConstructorError
from yaml.error import MarkedYAMLError

from pytest_llmserver.toolbench.yamldoc import (
    MAX_DEPTH,
    MAX_EXPANDED,
    MAX_NUMBER_CHARS,
    DocumentError,
    Node,
    Seq,
)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class _Limit(MarkedYAMLError):
    """A bound of ``yamldoc`` passed (reported without the "not valid YAML" prefix)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def _line(mark: Any) -> int:
    """The 1-based line of a mark (of PyYAML or libyaml), 1 without one."""
    return int(mark.line) + 1 if mark is not None else 1


class _Loader(yaml.SafeLoader):
    """The safe loader with depth and expansion counted during composition. The expansion of
    a node is its characters and nodes with every alias inside replaced by its target."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[yaml.Node, int] = {}

    def _grow(self, amount: int, mark: Any) -> None:
        self._expanded += amount
        if self._expanded > MAX_EXPANDED:
            raise _Limit(
                f"the document with its aliases expanded passes {MAX_EXPANDED} characters "
                "(an alias bomb?)",
                mark,
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor or "")
            if target is not None:
                if target not in self._sizes:
                    raise _Limit(
                        f"alias *{event.anchor} is used inside its own anchor", event.start_mark
                    )
                self._grow(self._sizes[target], event.start_mark)
            return self._compose(parent, index)  # an undefined alias is reported here
        if self._depth >= MAX_DEPTH:
            raise _Limit(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
        before = self._expanded
        self._depth += 1
        node = self._compose(parent, index)
        self._depth -= 1
        self._grow(len(node.value) + 1 if isinstance(node, yaml.ScalarNode) else 1, node.start_mark)
        self._sizes[node] = self._expanded - before
        return node

    def _compose(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        node = super().compose_node(parent, index)
        assert node is not None  # the base class returns None only at the end of a stream
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag in _NUMBER_TAGS
            and len(node.value) > MAX_NUMBER_CHARS
        ):
            raise ConstructorError(
                problem=f"a number of more than {MAX_NUMBER_CHARS} characters",
                problem_mark=node.start_mark,
            )
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. an int of 5000 digits
            raise ConstructorError(
                problem=f"cannot read this {node.tag.rsplit(':', 1)[-1]}: {exc}",
                problem_mark=node.start_mark,
            ) from None


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Node:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # an unhashable key; construct_mapping names it
        if first is not None:
            raise ConstructorError(
                problem=f"duplicate key {str(key)[:40]!r} (first on line {first})",
                problem_mark=key_node.start_mark,
            )
        seen[key] = _line(key_node.start_mark)
    mapping = Node(loader.construct_mapping(node, deep=True), line=_line(node.start_mark))
    mapping.key_lines = {
        loader.construct_object(k, deep=True): _line(k.start_mark) for k, _ in node.value
    }
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Seq:
    items = loader.construct_sequence(node, deep=True)
    return Seq(items, _line(node.start_mark), [_line(item.start_mark) for item in node.value])


def _as_written(loader: _Loader, node: yaml.ScalarNode) -> str:
    """A date or time stays the text it was written as (JSON has no date type)."""
    return loader.construct_scalar(node)


def _refuse(loader: _Loader, node: yaml.Node) -> NoReturn:
    raise ConstructorError(
        problem=f"a {node.tag.rsplit(':', 1)[-1]} has no JSON form", problem_mark=node.start_mark
    )


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_written)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)


def parse(source: str) -> Any:
    """The one document of ``source``; ``DocumentError`` if it passes a bound or is not valid
    YAML."""
    loader: _Loader | None = None
    try:
        loader = _Loader(source)  # checks every character first
        return loader.get_single_data()
    except _Limit as exc:
        raise DocumentError(_line(exc.problem_mark), str(exc.problem)) from None
    except MarkedYAMLError as exc:
        problem = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise DocumentError(_line(exc.problem_mark), f"not valid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = source[: exc.position].count("\n") + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise DocumentError(line, f"not valid YAML: {exc.reason} ({char})") from None
    except yaml.YAMLError as exc:
        raise DocumentError(1, f"not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        if loader is not None:
            loader.dispose()
