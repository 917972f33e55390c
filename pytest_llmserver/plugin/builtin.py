"""Which built-in suites a run collects (``--llm-builtin``), and built-in test ids pasted back
as pytest printed them.

The rule, with ``--llm-server`` given (without it the built-ins are never collected):

- ``yes``: the built-ins besides the user's paths (or ``testpaths``);
- ``only``: only the built-ins (those named by the arguments, else all of them);
- ``no``: never the built-ins;
- ``auto``: the built-ins an argument names, or all of them when ``-m`` / ``-k`` names one of
  their markers or tests (not after ``not``), or when the given paths hold no test of the
  user's; otherwise only the user's tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
"""The built-in test modules."""

_NOT_OURS = frozenset({"llm"})  # users mark their own tests ``llm`` too
_IDENT = re.compile(r"[\w:+\-.\[\]\\/]+")
_TEST_DEF = re.compile(r"^def (test_\w+)", re.MULTILINE)
_OPERATORS = frozenset({"and", "or", "not"})


@dataclass
class BuiltinChoice:
    """What ``pytest_configure`` decided for this run; ``user_tests`` counts the user's tests
    as they are collected."""

    mode: str
    asked: bool
    ids: tuple[str, ...] = ()
    """Built-in test ids pasted back as printed: only these built-ins run."""
    user_tests: int = 0

    def drop(self) -> bool:
        """Leave the built-ins out (all that is known so far)."""
        return self.mode == "no" or (self.mode == "auto" and not self.asked and self.user_tests > 0)


def suite_files() -> list[Path]:
    """The built-in test modules."""
    return sorted(SUITES_DIR.glob("test_*.py"))


def in_suites(path: Path) -> bool:
    """Whether ``path`` is the suites folder or inside it."""
    return path == SUITES_DIR or SUITES_DIR in path.parents


def builtin_names(markers: list[str], *, with_tasks: bool) -> set[str]:
    """Names that ask for the built-ins (lower case): their markers, modules and test
    functions, and with ``with_tasks`` the tool-bench task ids."""
    names = {m for m in markers if m not in _NOT_OURS}
    for path in suite_files():
        names.add(path.stem)
        names.update(_TEST_DEF.findall(path.read_text(encoding="utf-8")))
    if with_tasks:
        from pytest_llmserver.toolbench import builtin_tasks

        names.update(task.task_id for task in builtin_tasks())
    return {name.lower() for name in names}


def named_in(expression: str, names: set[str]) -> bool:
    """Whether a ``-m`` / ``-k`` expression names one of ``names`` other than after ``not``."""
    negated = False
    for token in _IDENT.findall(expression):
        word = token.lower()
        if word in _OPERATORS:
            negated = word == "not"
            continue
        if not negated and word.split("[", 1)[0] in names:
            return True
        negated = False
    return False


def asked_by_filter(markexpr: str, keyword: str, markers: list[str]) -> bool:
    """Whether ``-m markexpr`` or ``-k keyword`` asks for a built-in test."""
    if markexpr and named_in(markexpr, builtin_names(markers, with_tasks=False)):
        return True
    return bool(keyword) and named_in(keyword, builtin_names(markers, with_tasks=True))


def pasted_id(arg: str, invocation_dir: Path) -> str | None:
    """The built-in test id (``test_stress.py::test_consistency``) an argument is, as pytest
    printed it relative to a rootdir the suites are not under; None for any other argument."""
    path_part, sep, rest = arg.partition("::")
    if not path_part or (invocation_dir / path_part).exists():
        return None
    name = Path(path_part).name
    if name not in {path.name for path in suite_files()}:
        return None
    return name + sep + rest


def wanted(nodeid: str, path: Path, ids: tuple[str, ...]) -> bool:
    """Whether a built-in test (``nodeid`` at ``path``) is one of the pasted ``ids`` (or in a
    module or function one of them names)."""
    name = path.name + "::" + nodeid.partition("::")[2]
    return any(name == i or name.startswith((i + "::", i + "[")) for i in ids)


def points_into_suites(arg: str, invocation_dir: Path, *, pyargs: bool) -> bool:
    """Whether a collection argument names the built-ins (or some of them) by their path."""
    path_part = arg.partition("::")[0]
    if pyargs and path_part.startswith("pytest_llmserver.suites"):
        return True
    return bool(path_part) and in_suites((invocation_dir / path_part).resolve())


def choose(
    mode: str,
    args: list[str],
    invocation_dir: Path,
    *,
    pyargs: bool,
    markexpr: str,
    keyword: str,
    markers: list[str],
) -> tuple[list[str], BuiltinChoice]:
    """The collection arguments for ``mode`` and what was decided."""
    if mode == "no":
        return list(args), BuiltinChoice(mode, asked=False)
    suites = str(SUITES_DIR)
    pasted = {arg: pasted_id(arg, invocation_dir) for arg in args}
    ids = tuple(i for i in pasted.values() if i is not None)
    rest = [arg for arg, i in pasted.items() if i is None]
    ours = [arg for arg in rest if points_into_suites(arg, invocation_dir, pyargs=pyargs)]
    if ids:  # the suites folder collected whole keeps the ids as printed; the rest deselected
        ours.append(suites)
        rest.append(suites)
    if mode == "only":
        return ours or [suites], BuiltinChoice(mode, asked=True, ids=ids)
    if ours and mode == "auto":
        return rest, BuiltinChoice(mode, asked=True, ids=ids)
    asked = mode == "yes" or asked_by_filter(markexpr, keyword, markers)
    if suites not in rest:
        rest.append(suites)
    return rest, BuiltinChoice(mode, asked=asked)
