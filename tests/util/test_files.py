"""Atomic writes: a reader never sees half a file, no temporary file is left on any exception,
and the leftovers of a killed writer are removed by the next write of the same target once
they are stale (never a fresh one, never another target's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_llmserver._util import atomic_write, files

KILLED_WRITER = """\
import os, signal, sys
from pathlib import Path
from pytest_llmserver._util import atomic_write

def killed(*_):
    os.kill(os.getpid(), signal.SIGKILL)

os.replace = killed  # the data is in the temporary file; the rename never happens
atomic_write(Path(sys.argv[1]), b"half of a report")
"""


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def age(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` (not of a symlink's target) ``seconds`` ago."""
    moment = time.time() - seconds
    os.utime(path, (moment, moment), follow_symlinks=False)


def test_writes_text_and_bytes_into_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.md"
    assert atomic_write(target, "café\n") == target
    assert target.read_bytes() == "café\n".encode()
    atomic_write(target, b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff"
    assert temps(target.parent) == []


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_no_temporary_file_is_left_on_any_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    target = tmp_path / "results.json"
    target.write_text("old")

    def fail(*_: object) -> None:
        assert len(temps(tmp_path)) == 1, "the data went to a temporary file first"
        raise error

    monkeypatch.setattr("pytest_llmserver._util.files.os.replace", fail)
    with pytest.raises(type(error)):
        atomic_write(target, "new")
    assert temps(tmp_path) == []
    assert target.read_text() == "old"


def test_data_that_cannot_be_written_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "lone \udc80 surrogate")
    with pytest.raises(TypeError):
        atomic_write(target, 5)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_leaves_a_temporary_file_the_next_write_removes_when_stale(
    tmp_path: Path,
) -> None:
    target = tmp_path / "summary.md"
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True, timeout=60
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    (left,) = temps(tmp_path)
    assert left.startswith(".summary.md-")
    assert (tmp_path / left).read_bytes() == b"half of a report"
    assert not target.exists()

    atomic_write(target, "fresh leftovers are kept")  # another writer may be using it now
    assert temps(tmp_path) == [left]
    assert files.STALE_TEMP_S == 600
    age(tmp_path / left, 9 * 60)
    atomic_write(target, "still younger than 10 minutes")
    assert temps(tmp_path) == [left]
    age(tmp_path / left, 11 * 60)
    atomic_write(target, "complete")
    assert temps(tmp_path) == []
    assert target.read_text() == "complete"


def test_only_the_targets_own_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    own = [".a.json-0123abcd.tmp", ".a.json-k3_z9q0w.tmp"]  # ours, and one tempfile named
    others = [
        ".a.json-b-1234abcd.tmp",  # the target "a.json-b"
        ".a.json-0123abcd.tmp.bak",
        ".a.json-0123abc.tmp",
        "a.json-0123abcd.tmp",
        ".b.json-0123abcd.tmp",
        ".a.json-0123ABCD.tmp",
    ]
    for name in own + others:
        (tmp_path / name).write_text("left")
        age(tmp_path / name, 3600)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "kept").write_text("keep")
    link = tmp_path / ".a.json-11111111.tmp"
    link.symlink_to(tmp_path / "outside" / "kept")
    age(link, 3600)
    folder = tmp_path / ".a.json-22222222.tmp"
    folder.mkdir()
    age(folder, 3600)

    atomic_write(target, "{}")
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert remaining == sorted([*others, link.name, folder.name, "a.json", "outside"])
    assert (tmp_path / "outside" / "kept").read_text() == "keep"
