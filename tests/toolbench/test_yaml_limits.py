"""Hostile YAML task files: every problem is one ``TaskSchemaError`` line naming file and line,
the work is bounded before it happens (size, depth, alias expansion), and under pytest only the
bad file's ``schema`` test fails."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmserver.servers import ORACLE
from pytest_llmserver.servers.oracle import BenchPolicy
from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.toolbench import AgentTask, TaskSchemaError, load_tasks, yamldoc
from pytest_llmserver.toolbench.task import MAX_PARAMETERS_BYTES
from pytest_llmserver.toolbench.tools import ToolState, execute

EXAMPLE = Path(__file__).parents[2] / "example_suites" / "orders.llm.yaml"
FAST = TimingModel(ttft_s=0.002, per_token_s=0.0005)

TASK = """\
tasks:
  - id: X1
    tier: quick
    prompt: hi
    tools: [lookup]
    expect:
      calls: [{name: lookup, args: {key: a}}]
    solution:
      - calls: [{name: lookup, args: {key: a}}]
      - answer: done
"""


def with_tool(parameters: str, extra: str = "") -> str:
    """A file with one declared tool ``lookup`` whose ``parameters:`` value is given."""
    return (
        f"{extra}tools:\n  - name: lookup\n    description: d\n    parameters: {parameters}\n"
        "    default: {found: true}\n" + TASK
    )


def schema_error(text: str, name: str = "f.llm.yaml") -> str:
    """The one-line message ``load_tasks`` raises for ``text``."""
    with pytest.raises(TaskSchemaError) as info:
        load_tasks(name, text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{name}:")
    return message


def test_the_template_loads() -> None:
    (task,) = load_tasks("f.llm.yaml", with_tool("{type: object}"))
    assert task.catalog()[0].parameters == {"type": "object"}


# Bytes -------------------------------------------------------------------------------------


def test_non_utf8_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.llm.yaml"
    path.write_bytes(TASK.replace("prompt: hi", "prompt: caf\xe9").encode("latin-1"))
    with pytest.raises(TaskSchemaError) as info:
        load_tasks(path)
    offset = TASK.index("prompt: hi") + len("prompt: caf")
    expected = f"{path}:4: not UTF-8 (invalid continuation byte at byte offset {offset})"
    assert str(info.value) == expected


def test_control_characters_name_their_line() -> None:
    message = schema_error(TASK.replace("prompt: hi", "prompt: h\x01i"))
    assert message == "f.llm.yaml:4: not valid YAML: special characters are not allowed (U+0001)"


def test_a_file_over_the_size_cap_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    assert yamldoc.MAX_FILE_BYTES == 1 << 20
    path = tmp_path / "big.llm.yaml"
    path.write_bytes(b"tasks: []\n" + b"# padding\n" * (yamldoc.MAX_FILE_BYTES // 10))
    started = time.perf_counter()
    with pytest.raises(TaskSchemaError) as info:
        load_tasks(path)
    assert time.perf_counter() - started < 0.5  # the pure-Python parser needs seconds for 1 MiB
    lines = yamldoc.MAX_FILE_BYTES // 10 + 1
    assert str(info.value) == f"{path}:{lines}: the file passes the 1048576-byte limit here"


def test_a_file_at_the_size_cap_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    text = with_tool("{type: object}")
    monkeypatch.setattr(yamldoc, "MAX_FILE_BYTES", len(text.encode()))
    assert load_tasks("f.llm.yaml", text)[0].task_id == "X1"
    assert "passes the" in schema_error(text + "#")


def test_an_unreadable_path_is_a_schema_error(tmp_path: Path) -> None:
    with pytest.raises(TaskSchemaError, match=r"^.*dir\.llm\.yaml:1: cannot read the file: "):
        load_tasks(tmp_path / "dir.llm.yaml")
    (tmp_path / "dir.llm.yaml").mkdir()
    with pytest.raises(TaskSchemaError, match=r"dir\.llm\.yaml:1: cannot read the file: Is a dir"):
        load_tasks(tmp_path / "dir.llm.yaml")


# Nesting and aliases -------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_is_capped_while_composing() -> None:
    assert yamldoc.MAX_DEPTH == 64
    # root, tools, the tool and parameters are 4 levels: 60 more reach the cap, 61 pass it
    (task,) = load_tasks("f.llm.yaml", with_tool(f"{{type: object, x: {nested(60)}}}"))
    assert task.task_id == "X1"
    message = schema_error(with_tool(f"{{type: object, x: {nested(61)}}}"))
    assert message == "f.llm.yaml:4: nesting deeper than 64 levels"
    for depth in (1000, 100_000):  # once a RecursionError
        assert schema_error(with_tool(nested(depth))).endswith("nesting deeper than 64 levels")


def test_block_nesting_names_the_line_of_the_level_too_deep() -> None:
    # the root mapping is level 1, the mapping starting on line n level n, its key level n + 1
    deep = "".join(f"{'  ' * i}k{i}:\n" for i in range(70))
    assert schema_error(deep) == "f.llm.yaml:64: nesting deeper than 64 levels"


BOMB = """\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_an_alias_bomb_stops_at_the_expansion_cap() -> None:
    text = with_tool("\n" + "".join("      " + line + "\n" for line in BOMB.splitlines()))
    started = time.perf_counter()
    message = schema_error(text)
    assert time.perf_counter() - started < 2.0  # never expanded (9**9 strings before)
    # a "lol" weighs 4 and a list 1: a 37, b 334, ... f 2192194; the first *f of g (line 11)
    # takes the count past 4 Mi
    assert message == (
        "f.llm.yaml:11: the document with its aliases expanded passes 4194304 characters "
        "(an alias bomb?)"
    )


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    message = schema_error(with_tool("&loop {type: object, properties: {self: *loop}}"))
    assert message == "f.llm.yaml:4: alias *loop is used inside its own anchor"


def test_moderate_aliases_and_merge_keys_still_work() -> None:
    text = (
        "tools:\n  - name: lookup\n    description: d\n"
        "    parameters: &schema {type: object, properties: {key: {type: string}}}\n"
        "    responses:\n"
        "      - {when: &when {key: a}, result: &hit {found: true, extra: {<<: *when, n: 1}}}\n"
        "      - {when: {key: b}, result: *hit}\n" + TASK.replace("args: {key: a}", "args: *when")
    )
    (task,) = load_tasks("f.llm.yaml", text)
    (tool,) = task.catalog()
    assert tool.parameters == {"type": "object", "properties": {"key": {"type": "string"}}}
    assert execute(tool, {"key": "b"}, ToolState()) == (
        '{"found": true, "extra": {"key": "a", "n": 1}}',
        False,
    )
    assert dict(task.required_calls[0].args) == {"key": "a"}


def test_a_huge_parameters_schema_is_refused() -> None:
    assert MAX_PARAMETERS_BYTES == 64 << 10
    properties = ", ".join(f"p{i}: {{type: string, description: {'x' * 60}}}" for i in range(1200))
    message = schema_error(with_tool(f"{{type: object, properties: {{{properties}}}}}"))
    assert message.startswith("f.llm.yaml:4: tools[0]: parameters schema of ")
    assert message.endswith(" bytes passes the 65536-byte limit")
    # the same bytes reached through aliases are counted too
    shared = "{" + ", ".join(f"q{i}: &p{i} {{type: string}}" for i in range(3)) + "}"
    fanned = ", ".join(f"r{i}: [{', '.join(['*p0'] * 40)}]" for i in range(200))
    assert "passes the 65536-byte limit" in schema_error(
        with_tool(f"{{type: object, s: {shared}, {fanned}}}")
    )


# Values --------------------------------------------------------------------------------------

FULL = with_tool("{type: object}")  # the task's lines are 6 (tasks:) to 15
ARGS = "args: {key: a}}]\n    solution"  # on line 12


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("    tier: quick\n", "    tier: quick\n    tier: hard\n"),
            "f.llm.yaml:9: not valid YAML: duplicate key 'tier' (first on line 8)",
        ),
        (
            (ARGS, "args: {key: a, key: b}}]\n    solution"),
            "f.llm.yaml:12: not valid YAML: duplicate key 'key' (first on line 12)",
        ),
        (
            ("prompt: hi", "prompt: 7"),
            "f.llm.yaml:9: task 'X1': field 'prompt' must be str, got int",
        ),
        (
            ("prompt: hi", "prompt: ~"),
            "f.llm.yaml:9: task 'X1': field 'prompt' must be str, got null",
        ),
        (
            ("    tools: [lookup]\n", "    tools: [lookup, 3]\n"),
            "f.llm.yaml:10: task 'X1': field 'tools' must be a list of strings",
        ),
        (
            ("  - id: X1\n", "  - 5\n  - id: X1\n"),
            "f.llm.yaml:7: tasks[0] must be a mapping, got int",
        ),
        (
            (ARGS, "args: {key: !!binary aGk=}}]\n    solution"),
            "f.llm.yaml:12: not valid YAML: a binary has no JSON form",
        ),
        (
            (ARGS, "args: {key: !!set {a}}}]\n    solution"),
            "f.llm.yaml:12: not valid YAML: a set has no JSON form",
        ),
        (
            (ARGS, "args: {1: a}}]\n    solution"),
            "f.llm.yaml:12: task 'X1'.expect.calls[0].args: key 1 is not a string",
        ),
        (
            (ARGS, "args: {key: .nan}}]\n    solution"),
            "f.llm.yaml:12: task 'X1'.expect.calls[0].args.key: nan is not a finite number",
        ),
        (
            ("      calls:", "      numbers: [1, .inf]\n      calls:"),
            "f.llm.yaml:12: task 'X1'.expect: 'numbers' must be a list of finite numbers",
        ),
        (
            ("prompt: hi", "prompt: hi\n    max_iterations: " + "9" * 5000),
            "f.llm.yaml:10: not valid YAML: a number of more than 100 characters",
        ),
        (
            ("prompt: hi", "prompt: hi\n    max_iterations: " + "9" * 99),
            "f.llm.yaml:10: task 'X1': field 'max_iterations' must be in 1..100",
        ),
        (
            ("      calls:", "      max_calls: -1\n      calls:"),
            "f.llm.yaml:12: task 'X1'.expect: field 'max_calls' must be in 0..1000",
        ),
        (
            ("      calls:", "      numeric_abs_tol: -0.5\n      calls:"),
            "f.llm.yaml:12: task 'X1'.expect: field 'numeric_abs_tol' must be a finite number >= 0",
        ),
        (
            ("  - id: X1\n", "  - {id: X1, tier: quick, prompt: hi, tools: []}\n  - id: X1\n"),
            "f.llm.yaml:8: duplicate task id 'X1' (first on line 7)",
        ),
        (
            ("prompt: hi", "prompt: [unclosed"),
            "f.llm.yaml:10: not valid YAML: while parsing a flow sequence; "
            "expected ',' or ']', but got ':'",
        ),
    ],
)
def test_bad_values_are_one_line_with_file_and_line(edit: tuple[str, str], message: str) -> None:
    assert edit[0] in FULL
    assert schema_error(FULL.replace(*edit)) == message


def test_tool_declarations_are_checked() -> None:
    assert schema_error(FULL.replace("name: lookup", "name: look up")) == (
        "f.llm.yaml:2: tools[0]: tool name 'look up' is not [A-Za-z0-9_.-]{1,64}"
    )
    twice = FULL.replace("tasks:", "  - {name: lookup, description: again}\ntasks:")
    assert schema_error(twice) == "f.llm.yaml:6: tools[1]: a second tool named 'lookup'"
    when_list = with_tool("{type: object}\n    responses:\n      - {when: [a], result: 1}")
    assert schema_error(when_list) == (
        "f.llm.yaml:6: tools[0].responses[0]: field 'when' must be a mapping of arguments"
    )


def test_dates_stay_text_the_model_and_the_tool_can_match() -> None:
    responses = "\n    responses:\n      - {when: {day: 2025-03-14}, result: {due: 2025-04-01}}"
    text = with_tool("{type: object}" + responses)
    (task,) = load_tasks("f.llm.yaml", text.replace("args: {key: a}", "args: {day: 2025-03-14}"))
    assert dict(task.required_calls[0].args) == {"day": "2025-03-14"}
    (tool,) = task.catalog()
    assert execute(tool, {"day": "2025-03-14"}, ToolState()) == ('{"due": "2025-04-01"}', False)


def load_or_message(text: str) -> list[AgentTask] | str:
    """The tasks of ``text``, or the message of its ``TaskSchemaError``."""
    try:
        return load_tasks("f.llm.yaml", text)
    except TaskSchemaError as exc:
        return str(exc)


def assert_one_line(message: str) -> None:
    file, line, _ = message.split(":", 2)
    assert (file, "\n" in message) == ("f.llm.yaml", False), message
    assert int(line) >= 1, message


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield from paths(item, (*path, key))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    inner = doc
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = value
    return doc


def test_any_value_of_any_type_anywhere_loads_or_is_one_schema_error() -> None:
    """Every node of the example suite replaced by values of other JSON types (half of six
    kinds per node, alternating): either the file still loads with JSON-only tool data, or
    one schema error line names the file and a line."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    outcomes = {"loaded": 0, "refused": 0}
    kinds: tuple[Any, ...] = (7, None, "s", True, [], {"k": 1})
    for index, path in enumerate(paths(doc)):
        for value in kinds[index % 2 :: 2]:
            text = yaml.safe_dump(replaced(doc, path, value), sort_keys=False)
            tasks = load_or_message(text)
            if isinstance(tasks, str):
                assert_one_line(tasks)
                outcomes["refused"] += 1
                continue
            for task in tasks:
                json.dumps([spec.schema() for spec in task.catalog()], allow_nan=False)
                json.dumps([dict(call.args) for call in task.required_calls], allow_nan=False)
                for spec in task.declared_tools.values():
                    assert not execute(spec, {"order_id": 1042}, ToolState())[0].startswith(
                        '{"error": "tool '  # a tool that crashed, not one that answered
                    )
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 150
    assert outcomes["loaded"] > 50


YAML_PIECES = st.sampled_from(
    [
        "tasks:",
        "tools:",
        "\n",
        "  ",
        "- ",
        "id: X",
        "tier: quick",
        "prompt: p",
        "tools: []",
        "[",
        "]",
        "{",
        "}",
        ",",
        ": ",
        "&a ",
        "*a",
        "!!binary ",
        "!!set ",
        "<<: ",
        "? ",
        "|\n",
        "'",
        '"',
        "#",
        ".nan",
        "2025-01-01",
        "1e999",
        "\t",
        "\x00",
        "\xff",
        "é",
        "~",
        "%YAML 1.1\n",
        "--- ",
        "...",
        "@",
        "`",
        "!foo ",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(YAML_PIECES, max_size=40))
def test_fuzzed_documents_raise_only_schema_errors(pieces: list[str]) -> None:
    tasks = load_or_message("".join(pieces))
    if isinstance(tasks, str):
        assert_one_line(tasks)


# Under pytest: the bad files fail, the good one runs ------------------------------------------


@pytest.mark.usefixtures("llm_pytester")
def test_hostile_files_fail_their_schema_test_and_a_good_file_runs(
    pytester: pytest.Pytester,
) -> None:
    pytester.path.joinpath("latin.llm.yaml").write_bytes(b"tasks: [caf\xe9]\n")
    pytester.makefile(
        ".llm.yaml",
        deep=with_tool(nested(5000)),
        bomb=with_tool("\n" + "".join("      " + line + "\n" for line in BOMB.splitlines())),
    )
    pytester.makefile(".llm.yaml", orders=EXAMPLE.read_text())
    policy = BenchPolicy(load_tasks(EXAMPLE))
    files = ["bomb.llm.yaml", "deep.llm.yaml", "latin.llm.yaml", "orders.llm.yaml"]
    with SimThread(SimConfig(models=(ORACLE,), policy=policy, timing=FAST)) as sim:
        result = pytester.runpytest_inprocess(
            *files, f"--llm-server={sim.url}", f"--llm-logs={pytester.path / 'logs'}"
        )
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "*bomb.llm.yaml:11: the document with its aliases expanded passes 4194304 characters*",
            "*deep.llm.yaml:4: nesting deeper than 64 levels",
            "*latin.llm.yaml:1: not UTF-8 (invalid continuation byte at byte offset 11)",
            "FAILED bomb.llm.yaml::schema*",
            "FAILED deep.llm.yaml::schema*",
            "FAILED latin.llm.yaml::schema*",
        ]
    )
