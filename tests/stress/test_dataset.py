"""Users' own prompts: the three formats, the one-line faults, the seeded order, the bundled
set, and what the modes send from a dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.client import ChatResponse, ModelClient
from pytest_llmserver.stress import (
    BUNDLED_DATASET,
    Dataset,
    DatasetError,
    PromptRow,
    StressTester,
    load_dataset,
)
from pytest_llmserver.stress import dataset as dataset_module
from tests.stress.fakes import FaultyClient

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Plan a picnic."},
    {"role": "assistant", "content": "Where?"},
    {"role": "user", "content": "By the lake."},
    {"role": "assistant", "content": "(dropped: the server answers this turn)"},
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, items: list[Any]) -> Path:
    return write(path, "".join(json.dumps(item) + "\n" for item in items))


def test_jsonl_prompts_messages_and_output_tokens(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "d.jsonl",
        [{"prompt": "Say hi.", "output_tokens": 5}, {"messages": CHAT}, {"prompt": "Bye."}],
    )
    data = load_dataset(path)
    assert data.name == str(path)
    first, chat, last = data.rows
    assert first == PromptRow("Say hi.", (), 5)
    assert chat.text == "By the lake."
    assert [m["role"] for m in chat.history] == ["system", "user", "assistant"]
    assert chat.script == ("Plan a picnic.", "By the lake.")
    assert chat.output_tokens is None
    assert last == PromptRow("Bye.")


def test_blank_lines_and_a_byte_order_mark_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "a"}\n\n  \n{"prompt": "b"}')
    assert [r.text for r in load_dataset(path).rows] == ["a", "b"]


def test_sharegpt_json(tmp_path: Path) -> None:
    items = [
        {"conversations": [{"from": "human", "value": "Hello?"}, {"from": "gpt", "value": "Hi."}]},
        {"conversations": [{"from": "gpt", "value": "no human turn: skipped"}]},
        {
            "id": "x",
            "conversations": [
                {"from": "system", "value": "Be kind."},
                {"from": "human", "value": "One."},
                {"from": "gpt", "value": "Two."},
                {"from": "human", "value": "Three?"},
            ],
        },
    ]
    data = load_dataset(write(tmp_path / "share.json", json.dumps(items)))
    assert [r.text for r in data.rows] == ["Hello?", "Three?"]
    assert data.rows[0].history == ()
    assert data.rows[1].script == ("One.", "Three?")
    assert data.rows[1].history[0] == {"role": "system", "content": "Be kind."}


def test_json_list_of_prompt_rows(tmp_path: Path) -> None:
    items = [{"prompt": "p1", "output_tokens": 3}, {"messages": CHAT[:2]}]
    data = load_dataset(write(tmp_path / "rows.JSON", json.dumps(items)))
    assert [(r.text, r.output_tokens) for r in data.rows] == [("p1", 3), ("Plan a picnic.", None)]


def test_csv_with_prompt_and_output_tokens(tmp_path: Path) -> None:
    text = 'id,prompt,output_tokens\n1,"Hello, world",7\n2,"Two\nlines",\n'
    data = load_dataset(write(tmp_path / "d.csv", text))
    assert [(r.text, r.output_tokens) for r in data.rows] == [
        ("Hello, world", 7),
        ("Two\nlines", None),
    ]


@pytest.mark.parametrize(
    ("name", "text", "fault"),
    [
        ("empty.jsonl", " \n\n", "the file is empty"),
        ("bad.jsonl", '{"prompt": "a"}\n{"prompt": \n', "line 2 is not valid JSON"),
        ("neither.jsonl", '{"prompt": "a"}\n{"text": "b"}\n', "line 2: has neither 'prompt'"),
        ("blank.jsonl", '{"prompt": "   "}\n', "line 1: 'prompt' must be non-empty text"),
        ("list.jsonl", '["a"]\n', "line 1: expected an object with 'prompt' or 'messages'"),
        ("chat.jsonl", '{"messages": [{"role": "assistant", "content": "x"}]}\n', "no user"),
        ("role.jsonl", '{"messages": [{"role": "bot", "content": "x"}]}\n', "needs a role"),
        ("tok.jsonl", '{"prompt": "a", "output_tokens": 0}\n', "whole number >= 1, got 0"),
        ("tok2.jsonl", '{"prompt": "a", "output_tokens": true}\n', "got True"),
        ("obj.json", '{"prompt": "a"}', "a .json dataset must be a list"),
        ("broken.json", '[{"prompt": "a"},\n', "not valid JSON at line 2"),
        ("nohuman.json", '[{"conversations": [{"from": "gpt", "value": "x"}]}]', "no usable"),
        ("cols.csv", "text,output_tokens\nhello,3\n", "no 'prompt' column (columns: text, out"),
        ("tok.csv", "prompt,output_tokens\nhello,many\n", "row 2: 'output_tokens' must be"),
        ("header.csv", "prompt\n", "no usable prompt in the file"),
        ("d.txt", "hello\n", "unknown extension '.txt' (supported: .jsonl, .json, .csv)"),
        ("noext", "hello\n", "unknown extension '(none)'"),
    ],
)
def test_faults_are_one_line(tmp_path: Path, name: str, text: str, fault: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert message.startswith(f"dataset {path}: ")
    assert fault in message
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nothere\.jsonl: no such file$"):
        load_dataset(tmp_path / "nothere.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(DatasetError, match=r"dir\.jsonl: not a file$"):
        load_dataset(tmp_path / "dir.jsonl")


def test_reads_within_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = jsonl(tmp_path / "d.jsonl", [{"prompt": f"p{i}"} for i in range(10)])
    monkeypatch.setattr(dataset_module, "MAX_ROWS", 4)
    assert [r.text for r in load_dataset(path).rows] == ["p0", "p1", "p2", "p3"]
    monkeypatch.setattr(dataset_module, "MAX_BYTES", 20)
    with pytest.raises(DatasetError, match=r"d\.jsonl: 170 bytes is over the 20-byte limit$"):
        load_dataset(path)


def test_seeded_order_uses_every_row_once_per_pass() -> None:
    data = Dataset("x", tuple(PromptRow(f"p{i}") for i in range(20)))
    order = data.order(7)
    assert sorted(order) == list(range(20))
    assert order == data.order(7)
    assert order != data.order(8)


def test_bundled_set_has_short_medium_long_and_multi_turn_rows() -> None:
    data = load_dataset(BUNDLED_DATASET)
    assert data.name == BUNDLED_DATASET
    words = [len(row.text.split()) for row in data.rows]
    assert len(data.rows) >= 30
    assert min(words) < 12
    assert max(words) > 300
    assert any(30 < w < 60 for w in words)
    assert sum(len(row.script) > 1 for row in data.rows) >= 4
    assert all(row.output_tokens for row in data.rows)


SALT = re.compile(r"\[r[0-9a-f]+\]")


class Recorder(FaultyClient):
    """A client that answers every call and keeps what was sent and its ``max_tokens``."""

    def __init__(self) -> None:
        super().__init__(every=0, delay_s=0.0)
        self.sent: list[tuple[list[dict[str, Any]], int | None]] = []
        self.salted = 0

    async def complete(  # type: ignore[override]
        self, messages: list[dict[str, Any]], max_tokens: int | None = None, **_: Any
    ) -> ChatResponse:
        last = messages[-1]
        salt, _, text = last["content"].partition(" ")
        if last["role"] == "user" and SALT.fullmatch(salt):  # the stress modes salt new prompts
            messages = [*messages[:-1], {**last, "content": text}]
            self.salted += 1
        self.sent.append((messages, max_tokens))
        return await super().complete(messages)


class RecordingTester(StressTester):
    def __init__(self, out_dir: Path, **kwargs: Any) -> None:
        super().__init__(
            {"url": "http://127.0.0.1:9"}, "fake", max_tokens=8, out_dir=out_dir, **kwargs
        )
        self.recorder = Recorder()

    def client(self, pool: int) -> ModelClient:
        return self.recorder  # type: ignore[return-value]


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    rows = [{"prompt": f"prompt {i}", "output_tokens": i + 1} for i in range(5)]
    return jsonl(tmp_path / "d.jsonl", [*rows, {"messages": CHAT}])


async def test_throughput_sends_rows_in_the_seed_order(tmp_path: Path, data_path: Path) -> None:
    t = RecordingTester(tmp_path, dataset=data_path, seed=3, warmup=0)
    stats = await t.run_throughput_test(2, 12)
    assert stats.params["dataset"] == str(data_path)
    data = load_dataset(data_path)
    expected = [data.rows[i] for i in data.order(3)] * 2
    sent = sorted(t.recorder.sent, key=lambda s: str(s))  # in flight two at a time
    want = sorted(((t.messages(r.text, r.history), r.output_tokens) for r in expected), key=str)
    assert sent == want
    assert t.recorder.salted == len(sent)  # every dataset prompt went out salted
    assert (None, "By the lake.") in {(m, msgs[-1]["content"]) for msgs, m in t.recorder.sent}


async def test_sustained_uses_the_dataset(tmp_path: Path, data_path: Path) -> None:
    t = RecordingTester(tmp_path, dataset=load_dataset(data_path), warmup=0)
    await t.run_sustained_load_test(rpm=600, duration=0.5)
    texts = {msgs[-1]["content"] for msgs, _ in t.recorder.sent}
    assert texts
    assert texts <= {f"prompt {i}" for i in range(5)} | {"By the lake."}


async def test_consistency_prompt_from_option_or_first_row(tmp_path: Path, data_path: Path) -> None:
    t = RecordingTester(tmp_path, dataset=jsonl(tmp_path / "c.jsonl", [{"messages": CHAT}]))
    stats = await t.run_consistency_test(3)
    assert stats.params["prompt"] == "By the lake."
    assert {len(msgs) for msgs, _ in t.recorder.sent} == {4}  # the row's history went too
    t.recorder.sent.clear()
    stats = await t.run_consistency_test(2, "Name a colour.")
    assert stats.params["prompt"] == "Name a colour."
    assert [msgs for msgs, _ in t.recorder.sent[-2:]] == [t.messages("Name a colour.")] * 2
    t2 = RecordingTester(tmp_path, dataset=data_path, warmup=0)
    await t2.run_consistency_test(2)
    assert t2.recorder.sent == [(t2.messages("prompt 0"), 1)] * 2


async def test_realistic_users_play_dataset_rows_as_scripts(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "s.jsonl", [{"messages": CHAT, "output_tokens": 9}])
    t = RecordingTester(tmp_path, dataset=path, warmup=0)
    await t.run_realistic_user_test(20.0, "long", duration=1.0, think_median_s=0.001)
    sessions = [msgs for msgs, _ in t.recorder.sent if len(msgs) == 1]
    assert sessions
    assert all(m[0]["content"] == "Plan a picnic." for m in sessions)
    firsts = [limit for msgs, limit in t.recorder.sent if len(msgs) == 1]
    assert set(firsts) == {9}
    seconds = [msgs for msgs, _ in t.recorder.sent if len(msgs) == 3]
    assert seconds
    assert all(m[-1]["content"] == "By the lake." for m in seconds)
