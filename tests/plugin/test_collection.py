"""Which tests a run collects: the user's, the built-in suites (``--llm-builtin``), and
built-in test ids pasted back as pytest printed them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_llmserver.plugin.builtin import SUITES_DIR, choose, named_in, pasted_id

USER_TEST = """
import pytest

@pytest.mark.llm
def test_mine():
    pass
"""

N_BUILTIN = 56  # 45 tool-bench tasks, 7 stress tests (default sweep), sweep, capacity, 2 arenas


def collected(result: pytest.RunResult) -> list[str]:
    """The test ids a ``--collect-only -q`` run listed."""
    return [line for line in result.outlines if "::" in line and " " not in line]


@pytest.fixture
def user_folder(llm_pytester: pytest.Pytester) -> pytest.Pytester:
    llm_pytester.makepyfile(test_mine=USER_TEST)
    return llm_pytester


def test_user_folder_runs_only_the_users_tests(user_folder: pytest.Pytester) -> None:
    result = user_folder.runpytest("--llm-server=sim", "--collect-only", "-q")
    assert collected(result) == ["test_mine.py::test_mine"]
    assert "deselected" not in result.stdout.str()


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("-m", "consistency"),
        ("-m", "stress and not sustained"),
        ("-k", "test_consistency"),
        ("-k", "E08_emeka_desk_case"),
    ],
)
def test_a_filter_naming_a_builtin_collects_the_suites(
    user_folder: pytest.Pytester, flag: str, expected: str
) -> None:
    result = user_folder.runpytest("--llm-server=sim", "--collect-only", "-q", flag, expected)
    ids = collected(result)
    assert ids
    assert "test_mine.py::test_mine" not in ids
    assert all(i.startswith(("test_stress.py::", "test_toolbench.py::")) for i in ids)


def test_a_filter_excluding_builtins_keeps_the_users_tests(user_folder: pytest.Pytester) -> None:
    result = user_folder.runpytest("--llm-server=sim", "--collect-only", "-q", "-k", "not stress")
    assert collected(result) == ["test_mine.py::test_mine"]


def test_testpaths_do_not_hide_the_suites(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "testpaths = checks\n"
    )
    llm_pytester.mkdir("checks").joinpath("test_mine.py").write_text(USER_TEST)
    result = llm_pytester.runpytest("--llm-server=sim", "--collect-only", "-q", "-m", "toolbench")
    ids = collected(result)
    assert len(ids) == 45
    assert all(i.startswith("test_toolbench.py::") for i in ids)
    result = llm_pytester.runpytest("--llm-server=sim", "--collect-only", "-q")
    assert collected(result) == ["checks/test_mine.py::test_mine"]


def test_a_folder_without_tests_collects_the_suites(llm_pytester: pytest.Pytester) -> None:
    result = llm_pytester.runpytest("--llm-server=sim", "--collect-only", "-q")
    assert len(collected(result)) == N_BUILTIN


@pytest.mark.parametrize(
    ("mode", "mine", "builtins"),
    [("yes", True, N_BUILTIN), ("only", False, N_BUILTIN), ("no", True, 0)],
)
def test_the_switch_decides(
    user_folder: pytest.Pytester, mode: str, mine: bool, builtins: int
) -> None:
    result = user_folder.runpytest(
        "--llm-server=sim", f"--llm-builtin={mode}", "--collect-only", "-q"
    )
    ids = collected(result)
    assert ("test_mine.py::test_mine" in ids) is mine
    assert len([i for i in ids if not i.startswith("test_mine.py")]) == builtins


def test_no_means_never_even_when_asked(user_folder: pytest.Pytester) -> None:
    result = user_folder.runpytest("--llm-server=sim", "--llm-builtin=no", "-m", "toolbench")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert collected(user_folder.runpytest("--llm-builtin=NO", "--co", "-q")) == [
        "test_mine.py::test_mine"
    ]


def test_without_a_server_the_suites_are_never_collected(user_folder: pytest.Pytester) -> None:
    result = user_folder.runpytest("--collect-only", "-q", "-m", "toolbench")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert collected(result) == []


def test_a_bad_switch_is_one_usage_error(user_folder: pytest.Pytester) -> None:
    result = user_folder.runpytest("--llm-server=sim", "--llm-builtin=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-builtin: 'maybe' is not one of auto, yes, no, only*"])


@pytest.mark.parametrize("printed_by", ["-rA", "-v"])
def test_printed_ids_rerun_as_printed(user_folder: pytest.Pytester, printed_by: str) -> None:
    result = user_folder.runpytest(
        "--llm-server=sim", "-p", "no:randomly", "-m", "quick", printed_by
    )
    if printed_by == "-rA":
        pattern = r"^(?:PASSED|FAILED) (test_toolbench\.py::\S+)"
    else:
        pattern = r"^(test_toolbench\.py::\S+) (?:PASSED|FAILED)"
    printed = [m.group(1) for m in map(re.compile(pattern).match, result.outlines) if m]
    assert len(printed) >= 2
    for test_id in printed[:2]:
        again = user_folder.runpytest("--llm-server=sim", test_id, "-rA")
        ran = [line.split()[1] for line in again.outlines if line.startswith(("PASSED", "FAILED"))]
        assert ran == [test_id]


def test_a_printed_id_with_a_parent_path_and_a_module_select_the_builtins(
    user_folder: pytest.Pytester,
) -> None:
    result = user_folder.runpytest(
        "--llm-server=sim", "--co", "-q", "../test_stress.py::test_consistency", "test_arena.py"
    )
    assert sorted(collected(result)) == [
        "test_arena.py::test_arena_models",
        "test_arena.py::test_arena_prompts",
        "test_stress.py::test_consistency",
    ]


def test_choose_keeps_user_paths_and_asks_by_filter(tmp_path: Path) -> None:
    (tmp_path / "test_stress.py").write_text("")  # the user's own file of that name wins
    args, choice = choose(
        "auto", ["test_stress.py"], tmp_path, pyargs=False, markexpr="", keyword="", markers=[]
    )
    assert args == ["test_stress.py", str(SUITES_DIR)]
    assert not choice.asked
    assert pasted_id("test_stress.py::test_x", tmp_path) is None
    assert pasted_id("sub/test_arena.py::test_arena_models", tmp_path) == (
        "test_arena.py::test_arena_models"
    )
    assert pasted_id("test_other.py::test_x", tmp_path) is None


@pytest.mark.parametrize(
    ("expression", "asks"),
    [
        ("toolbench", True),
        ("quick or hard", True),
        ("not toolbench", False),
        ("slow and not stress", False),
        ("(toolbench)", True),
        ("llm", False),
        ("mine", False),
    ],
)
def test_named_in(expression: str, asks: bool) -> None:
    names = {"toolbench", "quick", "hard", "stress"}
    assert named_in(expression, names) is asks
