"""Saved chat transcripts: round trip, listing, search, and every refused name or file."""

from __future__ import annotations

import json
import os
import re
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.report.transcripts import (
    FORMAT,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    ChatHistoryManager,
    HistoryError,
    HistoryWarning,
    TranscriptInfo,
)

NAME = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{6}-(?P<slug>[A-Za-z0-9._-]{1,40})\.json$")

CHAT: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is the weather in Oslo?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    },
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": -3, "sky": "snow"}'},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "convert_units", "arguments": {"to": "kelvin"}}}],
    },
    {"role": "assistant", "content": "It is -3 °C and snowing."},
]


def can_symlink(tmp_path: Path) -> bool:
    probe = tmp_path / "probe-link"
    try:
        probe.symlink_to(tmp_path)
    except (OSError, NotImplementedError):
        return False
    probe.unlink()
    return True


def write_doc(directory: Path, name: str, saved_at: str, **fields: Any) -> None:
    """Write a hand-made valid transcript (fields override the defaults)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "saved_at": saved_at,
        "model": "m",
        "server": "",
        "tags": [],
        "title": name,
        "messages": [],
        "extra": {},
    }
    doc.update(fields)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture
def history(tmp_path: Path) -> ChatHistoryManager:
    return ChatHistoryManager(tmp_path / "history")


def test_round_trip_keeps_messages_and_fields(history: ChatHistoryManager) -> None:
    assert not history.directory.exists()
    before = datetime.now(timezone.utc)
    name = history.save(
        CHAT,
        "llama3",
        "http://127.0.0.1:11434",
        tags=["toolbench", "Q01_weather_oslo"],
        extra={"score": 1.0, "run": "abc"},
    )
    assert history.directory.is_dir()
    assert (history.directory / name).is_file()
    doc = history.load(name)
    assert doc["format"] == FORMAT
    assert doc["version"] == 1
    assert doc["model"] == "llama3"
    assert doc["server"] == "http://127.0.0.1:11434"
    assert "server_record" not in doc
    assert doc["tags"] == ["toolbench", "Q01_weather_oslo"]
    assert doc["title"] == "What is the weather in Oslo?"
    assert doc["messages"] == CHAT
    assert doc["extra"] == {"score": 1.0, "run": "abc"}
    saved_at = datetime.fromisoformat(doc["saved_at"])
    assert saved_at.utcoffset() is not None
    assert saved_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert before <= saved_at <= datetime.now(timezone.utc)
    [info] = history.list_all()
    assert info == TranscriptInfo(
        filename=name,
        saved_at=doc["saved_at"],
        model="llama3",
        server="http://127.0.0.1:11434",
        title="What is the weather in Oslo?",
        messages=len(CHAT),
        tags=("toolbench", "Q01_weather_oslo"),
    )


def test_title_is_first_user_message_on_one_short_line(history: ChatHistoryManager) -> None:
    long = "Line one\n\n  line two " + "word " * 40
    name = history.save(
        [{"role": "system", "content": "ignored"}, {"role": "user", "content": long}], "m"
    )
    title = history.load(name)["title"]
    assert len(title) <= 80
    assert "\n" not in title
    assert title.startswith("Line one line two word")
    assert title.endswith("…")
    assert history.load(history.save([], "m"))["title"] == ""


def test_filename_shape_slug_and_uniqueness(history: ChatHistoryManager) -> None:
    names = [history.save([{"role": "user", "content": str(i)}], "llama3") for i in range(50)]
    assert len(set(names)) == 50
    for name in names:
        match = NAME.match(name)
        assert match, name
        assert match["slug"] == "llama3"
    assert sorted(p.name for p in history.directory.iterdir()) == sorted(names)
    assert history.save([], "hf.co/org/Model:7b Q4_K_M").endswith("-hf.co_org_Model_7b_Q4_K_M.json")
    long_name = history.save([], "x" * 100)
    assert NAME.match(long_name)
    assert long_name.endswith("-" + "x" * 40 + ".json")
    assert NAME.match(history.save([], "")), "an empty model still gives a valid name"


def test_server_record_keeps_url_and_drops_secrets(history: ChatHistoryManager) -> None:
    record = {
        "url": "http://admin:hunter2@127.0.0.5:8000/v1",
        "kind": "vllm",
        "models": ["llama3"],
        "api_key": "sk-SECRET-1",
        "headers": {"Authorization": "Bearer SECRET-2", "Accept": "json"},
        "model_info": [{"name": "llama3", "access_token": "SECRET-3", "max_tokens": 4096}],
        "nested": {"deeper": [{"clientSecret": "SECRET-4", "Password": "SECRET-5"}]},
        "X-Api-Key": "SECRET-6",
        "OPENAI_API_KEY": "SECRET-7",
    }
    name = history.save([], "llama3", record)
    text = (history.directory / name).read_text(encoding="utf-8")
    assert "SECRET" not in text
    assert "hunter2" not in text
    doc = history.load(name)
    assert doc["server"] == "http://admin:[redacted]@127.0.0.5:8000/v1"
    assert doc["server_record"] == {
        "url": "http://admin:[redacted]@127.0.0.5:8000/v1",
        "kind": "vllm",
        "models": ["llama3"],
        "headers": {"Accept": "json"},
        "model_info": [{"name": "llama3", "max_tokens": 4096}],
        "nested": {"deeper": [{}]},
    }
    assert record["api_key"] == "sk-SECRET-1", "the caller's dict is not changed"


def test_server_as_none_or_record_without_url(history: ChatHistoryManager) -> None:
    assert history.load(history.save([], "m"))["server"] == ""
    doc = history.load(history.save([], "m", {"kind": "sim"}))
    assert doc["server"] == ""
    assert doc["server_record"] == {"kind": "sim"}
    with pytest.raises(TypeError, match="server must be"):
        history.save([], "m", 42)  # type: ignore[arg-type]


def test_list_all_is_newest_first(tmp_path: Path) -> None:
    directory = tmp_path / "h"
    write_doc(directory, "b.json", "2026-01-02T00:00:00+00:00")
    write_doc(directory, "a.json", "2026-01-02T00:00:00+00:00")
    write_doc(directory, "z.json", "2025-12-31T23:59:59.999999Z")
    write_doc(directory, "c.json", "2026-01-01T23:00:00-02:00")  # 01:00 UTC on the 2nd
    write_doc(directory, "naive.json", "2026-01-01T12:00:00")  # read as UTC
    names = [i.filename for i in ChatHistoryManager(directory).list_all()]
    assert names == ["c.json", "b.json", "a.json", "naive.json", "z.json"]


def test_saves_list_newest_first(history: ChatHistoryManager) -> None:
    names = [history.save([], "m") for _ in range(3)]
    assert [i.filename for i in history.list_all()] == names[::-1]


@pytest.fixture
def filled(history: ChatHistoryManager) -> dict[str, str]:
    return {
        "weather": history.save(CHAT, "llama3", tags=["toolbench", "Q01_weather_oslo"]),
        "poem": history.save(
            [{"role": "user", "content": "Write a haiku about Autumn"}], "qwen2.5:7b", tags=["fun"]
        ),
        "math": history.save(
            [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "Four"}],
            "llama3",
            tags=["fun"],
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("oslo", {"weather"}),  # title and list-of-parts text
        ("GET_WEATHER", {"weather"}),  # tool call name, any case
        ('"city": "oslo"', {"weather"}),  # tool call arguments given as a string
        ("kelvin", {"weather"}),  # tool call arguments given as an object
        ("SNOW", {"weather"}),  # tool result content
        ("°c and", {"weather"}),  # plain assistant text
        ("HAIKU", {"poem"}),
        ("qwen2.5", {"poem"}),  # model
        ("FOUR", {"math"}),
        ("q01_weather", {"weather"}),  # tag
        ("fun", {"poem", "math"}),
        ("", {"weather", "poem", "math"}),
        ("nowhere to be found", set()),
    ],
)
def test_search_text(
    history: ChatHistoryManager, filled: dict[str, str], query: str, expected: set[str]
) -> None:
    by_name = {v: k for k, v in filled.items()}
    assert {by_name[i.filename] for i in history.search(query)} == expected


def test_search_filters_and_order(history: ChatHistoryManager, filled: dict[str, str]) -> None:
    assert [i.filename for i in history.search("", model="llama3")] == [
        filled["math"],
        filled["weather"],
    ]
    assert [i.filename for i in history.search("", tag="fun")] == [filled["math"], filled["poem"]]
    assert [i.filename for i in history.search("four", model="llama3", tag="fun")] == [
        filled["math"]
    ]
    assert history.search("four", model="LLAMA3") == []  # the model filter is exact
    assert history.search("", tag="Fun") == []  # so is the tag filter
    assert history.search("oslo", tag="fun") == []


def test_delete(history: ChatHistoryManager) -> None:
    keep = history.save([], "m")
    gone = history.save([], "m")
    history.delete(gone)
    assert [i.filename for i in history.list_all()] == [keep]
    with pytest.raises(FileNotFoundError, match=re.escape(gone)):
        history.delete(gone)
    with pytest.raises(FileNotFoundError, match=re.escape(gone)):
        history.load(gone)


def test_missing_directory_lists_nothing(tmp_path: Path) -> None:
    history = ChatHistoryManager(tmp_path / "never" / "made")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert history.list_all() == []
        assert history.search("x") == []
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        history.load("nope.json")
    assert not history.directory.exists()


def test_default_directory_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_HISTORY_DIR", str(tmp_path / "from-env"))
    history = ChatHistoryManager()
    assert history.directory == tmp_path / "from-env"
    name = history.save([], "m")
    assert (tmp_path / "from-env" / name).is_file()


def test_default_directory_under_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_HISTORY_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    history = ChatHistoryManager()
    assert history.directory == tmp_path / "logs" / "history"
    assert not history.directory.exists(), "created only by the first save"
    history.save([], "m")
    assert history.directory.is_dir()


REFUSED = [
    "",
    ".",
    "..",
    "/",
    "a/b.json",
    "../outside.json",
    "..\\outside.json",
    "sub\\x.json",
    "/etc/passwd",
    "/tmp/x.json",
    "C:x.json",
    "C:\\Windows\\x.json",
    "c:/x.json",
    "x\x00.json",
    "x\n.json",
    ".hidden.json",
    ".json",
    ".tmp-abc.part",
    "x.json:stream",
    "x.txt",
    "x.json.bak",
    "x.JSON",
    "x",
    "x" * 300 + ".json",
]


@pytest.mark.parametrize("name", REFUSED)
def test_refused_names(tmp_path: Path, history: ChatHistoryManager, name: str) -> None:
    history.save([], "m")
    victim = tmp_path / "outside.json"
    victim.write_text("{}", encoding="utf-8")
    for action in (history.load, history.delete):
        with pytest.raises(HistoryError) as caught:
            action(name)
        assert "\n" not in str(caught.value)
    assert victim.exists()
    assert len(history.list_all()) == 1


def test_not_a_str_name_is_refused(history: ChatHistoryManager) -> None:
    with pytest.raises(HistoryError):
        history.load(None)  # type: ignore[arg-type]


def test_symlink_to_a_transcript_is_refused_and_not_listed(
    tmp_path: Path, history: ChatHistoryManager
) -> None:
    if not can_symlink(tmp_path):
        pytest.skip("no symlinks here")
    real = history.save([], "m")
    inside = history.directory / "alias.json"
    inside.symlink_to(history.directory / real)
    outside_target = tmp_path / "elsewhere.json"
    write_doc(tmp_path, "elsewhere.json", "2026-01-01T00:00:00+00:00")
    outside = history.directory / "escape.json"
    outside.symlink_to(outside_target)
    for link in ("alias.json", "escape.json"):
        with pytest.raises(HistoryError, match="symlink"):
            history.load(link)
        with pytest.raises(HistoryError, match="symlink"):
            history.delete(link)
    assert inside.is_symlink()
    assert outside.is_symlink()
    assert outside_target.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [i.filename for i in history.list_all()] == [real]
        assert [i.filename for i in history.search("")] == [real]


def test_symlinked_directory_cannot_be_escaped_through(
    tmp_path: Path, history: ChatHistoryManager
) -> None:
    if not can_symlink(tmp_path):
        pytest.skip("no symlinks here")
    secret_dir = tmp_path / "secret"
    write_doc(secret_dir, "private.json", "2026-01-01T00:00:00+00:00", title="private")
    history.directory.mkdir(parents=True)
    (history.directory / "escape").symlink_to(secret_dir, target_is_directory=True)
    (history.directory / "escape.json").symlink_to(secret_dir, target_is_directory=True)
    (history.directory / "realdir.json").mkdir()
    for name in ("escape/private.json", "escape.json"):
        with pytest.raises(HistoryError):
            history.load(name)
        with pytest.raises(HistoryError):
            history.delete(name)
    with pytest.raises(HistoryError, match="not a regular file"):
        history.delete("realdir.json")
    assert (secret_dir / "private.json").exists()
    assert (history.directory / "realdir.json").is_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert history.list_all() == []


def test_history_directory_itself_may_be_a_symlink(tmp_path: Path) -> None:
    if not can_symlink(tmp_path):
        pytest.skip("no symlinks here")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    history = ChatHistoryManager(tmp_path / "link")
    name = history.save([], "m")
    assert history.load(name)["model"] == "m"
    history.delete(name)
    assert list((tmp_path / "real").iterdir()) == []


def test_corrupt_files_warn_once_each_and_good_files_still_list(
    history: ChatHistoryManager,
) -> None:
    good = history.save([{"role": "user", "content": "hello"}], "m")
    directory = history.directory
    bad = {
        "not-json.json": b"{nope",
        "not-utf8.json": b"\xff\xfe{}",
        "array.json": b"[1, 2]",
        "wrong-format.json": json.dumps({"format": "other", "version": 1}).encode(),
        "future.json": json.dumps({"format": FORMAT, "version": 2}).encode(),
    }
    for name, data in bad.items():
        (directory / name).write_bytes(data)
    write_doc(directory, "no-messages.json", "2026-01-01T00:00:00Z", messages=None)
    write_doc(directory, "bad-time.json", "yesterday")
    write_doc(directory, "bad-tags.json", "2026-01-01T00:00:00Z", tags=[1])
    expected = {*bad, "no-messages.json", "bad-time.json", "bad-tags.json"}
    (directory / "notes.txt").write_text("not ours", encoding="utf-8")
    (directory / ".tmp-crashed.part").write_text('{"format": ', encoding="utf-8")
    for call in (history.list_all, lambda: history.search("hello")):
        with pytest.warns(HistoryWarning) as caught:
            assert [i.filename for i in call()] == [good]
        named = [next(n for n in expected if repr(n) in str(w.message)) for w in caught]
        assert sorted(named) == sorted(expected)
    for name in expected:
        with pytest.raises(HistoryError, match="not a saved transcript"):
            history.load(name)


def test_non_serialisable_message_names_its_index(history: ChatHistoryManager) -> None:
    good = {"role": "user", "content": "fine"}
    with pytest.raises(TypeError, match="message 1"):
        history.save([good, {"role": "user", "content": b"raw bytes"}], "m")
    with pytest.raises(TypeError, match="message 2"):
        history.save([good, good, {"role": "user", "content": float("nan")}], "m")
    with pytest.raises(TypeError, match="message 0"):
        history.save(["just a string"], "m")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="extra"):
        history.save([good], "m", extra={"when": datetime.now(timezone.utc)})
    with pytest.raises(TypeError, match="tags"):
        history.save([good], "m", tags="single")
    assert not history.directory.exists(), "nothing is written for a refused save"


def test_failed_write_leaves_no_file(
    history: ChatHistoryManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = history.save([], "m")

    def crash(*_: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    monkeypatch.setattr(os, "link", crash)  # the final move: a hard link, else a replace
    with pytest.raises(OSError, match="disk on fire"):
        history.save([{"role": "user", "content": "lost"}], "m")
    monkeypatch.undo()
    assert [p.name for p in history.directory.iterdir()] == [keep]


def test_named_transcripts_take_the_next_free_number(history: ChatHistoryManager) -> None:
    first = history.save([], "m", name="Q01_weather_oslo-attempt1")
    second = history.save([], "m", name="Q01_weather_oslo-attempt1")
    odd = history.save([], "m", name="../a b/c")
    assert (first, second) == ("Q01_weather_oslo-attempt1.json", "Q01_weather_oslo-attempt1-2.json")
    assert odd == "a-b-c.json"
    assert sorted(p.name for p in history.directory.iterdir()) == sorted([first, second, odd])
    assert history.load(second)["model"] == "m"


# Bounds: nesting and size ------------------------------------------------------------------


def nested_list(depth: int, leaf: Any = "x") -> Any:
    """``depth`` lists inside each other around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_deeply_nested_file_is_skipped_with_the_usual_warning(
    history: ChatHistoryManager,
) -> None:
    good = history.save([{"role": "user", "content": "hello"}], "m")
    deep = "[" * 100_000 + "]" * 100_000  # once a RecursionError out of list_all and search
    write_doc(history.directory, "deep.json", "2026-01-01T00:00:00Z", title="hello")
    path = history.directory / "deep.json"
    path.write_text(path.read_text().replace('"messages": []', f'"messages": [{deep}]'))
    for call in (history.list_all, lambda: history.search("hello")):
        with pytest.warns(HistoryWarning) as caught:
            assert [i.filename for i in call()] == [good]
        (warning,) = caught
        assert str(warning.message) == (
            "skipped 'deep.json': JSON nested 100002 levels deep, more than 102"
        )
    with pytest.raises(HistoryError, match=r"'deep\.json' is not a saved transcript: JSON nest"):
        history.load("deep.json")


def test_nesting_up_to_the_cap_round_trips_and_one_more_is_refused(
    history: ChatHistoryManager,
) -> None:
    assert MAX_DEPTH == 100
    # the message is level 1, its content level 2: 98 more lists reach the cap
    fits = {"role": "user", "content": nested_list(99, '[not] {a} "[level]" \\[')}
    name = history.save([fits], "m", extra={"x": nested_list(MAX_DEPTH - 1)})
    assert history.load(name)["messages"] == [fits]
    deeper = {"role": "user", "content": nested_list(100)}
    with pytest.raises(TypeError, match=r"^message 1 nests deeper than 100 levels"):
        history.save([fits, deeper], "m")
    with pytest.raises(TypeError, match=r"^extra nests deeper than 100 levels"):
        history.save([fits], "m", extra={"x": nested_list(MAX_DEPTH)})
    with pytest.raises(TypeError, match=r"^server record nests deeper than 100 levels"):
        history.save([fits], "m", {"url": "http://127.0.0.1:1", "x": nested_list(MAX_DEPTH)})
    assert [i.filename for i in history.list_all()] == [name]


def test_endless_nesting_is_a_type_error_not_a_recursion_error(
    history: ChatHistoryManager,
) -> None:
    very_deep = {"role": "tool", "content": nested_list(100_000)}
    with pytest.raises(TypeError, match="message 0 nests deeper"):
        history.save([very_deep], "m")
    looped: dict[str, Any] = {"role": "user"}
    looped["content"] = [looped]
    with pytest.raises(TypeError, match=r"message 0 nests deeper than 100 levels \(or holds"):
        history.save([looped], "m")
    record: dict[str, Any] = {"url": "http://127.0.0.1:1"}
    record["self"] = record
    with pytest.raises(TypeError, match="server record nests deeper"):
        history.save([], "m", record)
    assert not history.directory.exists()


class ReadRecorder:
    """A file handle that records how many bytes each ``read`` returned."""

    def __init__(self, handle: Any, sizes: list[int]) -> None:
        self.handle, self.sizes = handle, sizes

    def __enter__(self) -> ReadRecorder:
        return self

    def __exit__(self, *_: object) -> None:
        self.handle.close()

    def fileno(self) -> int:
        return int(self.handle.fileno())

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        self.sizes.append(len(data))
        return data


@pytest.mark.parametrize("size_known", [True, False])
def test_a_file_over_the_size_cap_is_skipped_without_reading_it_whole(
    history: ChatHistoryManager, monkeypatch: pytest.MonkeyPatch, size_known: bool
) -> None:
    assert MAX_FILE_BYTES == 16 << 20
    good = history.save([{"role": "user", "content": "hello"}], "m")
    with (history.directory / "huge.json").open("wb") as handle:
        handle.truncate(3 * MAX_FILE_BYTES)  # sparse
    sizes: list[int] = []
    real_fdopen, real_fstat = os.fdopen, os.fstat
    monkeypatch.setattr(
        "pytest_llmserver.report.jsonbounds.os.fdopen",
        lambda fd, mode: ReadRecorder(real_fdopen(fd, mode), sizes),
    )
    if not size_known:  # a file that grows after it is measured, or reports no size

        def fstat(fd: int) -> os.stat_result:
            info = real_fstat(fd)
            return os.stat_result((*info[:6], 0, *info[7:10]))

        monkeypatch.setattr("pytest_llmserver.report.jsonbounds.os.fstat", fstat)
    with pytest.warns(HistoryWarning, match=rf"'huge.json': larger than {MAX_FILE_BYTES} bytes"):
        assert [i.filename for i in history.list_all()] == [good]
    good_size = (history.directory / good).stat().st_size
    assert sorted(sizes) == ([good_size] if size_known else [good_size, MAX_FILE_BYTES + 1])


def test_size_cap_holds_both_ways(
    history: ChatHistoryManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = history.save([{"role": "user", "content": "hi"}], "m")
    size = (history.directory / small).stat().st_size
    monkeypatch.setattr("pytest_llmserver.report.transcripts.MAX_FILE_BYTES", size)
    assert history.load(small)["title"] == "hi"
    with pytest.raises(HistoryError, match=rf"^transcript of {size + 1} bytes, over {size}$"):
        history.save([{"role": "user", "content": "hi"}], "mx")  # one byte more
    write_doc(history.directory, "big.json", "2026-01-01T00:00:00Z", title="x" * size)
    with pytest.warns(HistoryWarning, match=rf"'big.json': larger than {size} bytes"):
        assert [i.filename for i in history.list_all()] == [small]
