"""Reading what a hostile task left behind: no link is followed, nothing unbounded is read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backends.taskfiles import (
    WORK,
    TaskFileError,
    collect_output,
    read_json,
    read_tail,
    runner_record,
)


def test_a_link_to_a_secret_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("planted-secret")
    (tmp_path / "stdout").symlink_to(secret)
    assert "planted-secret" not in read_tail(tmp_path / "stdout")
    assert "not a regular file" in read_tail(tmp_path / "stdout")
    with pytest.raises(TaskFileError, match="not a regular file"):
        read_json(tmp_path / "stdout")


def test_a_fifo_does_not_block_the_reader(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "stderr")
    assert "not a regular file" in read_tail(tmp_path / "stderr")


def test_long_output_keeps_its_end_and_says_what_was_left_out(tmp_path: Path) -> None:
    (tmp_path / "stdout").write_text("a" * 5000 + "THE END")
    text = read_tail(tmp_path / "stdout", limit=100)
    assert text.endswith("THE END")
    assert "the first 4907 bytes of stdout are left out" in text


def test_a_missing_file_reads_empty(tmp_path: Path) -> None:
    assert read_tail(tmp_path / "nothing") == ""
    assert read_json(tmp_path / "nothing") is None


def test_an_output_over_the_limit_is_not_collected(tmp_path: Path) -> None:
    (tmp_path / WORK).mkdir()
    (tmp_path / WORK / "output.json").write_text(json.dumps("x" * 2000))
    assert read_json(tmp_path / WORK / "output.json", limit=4096) == "x" * 2000
    with pytest.raises(TaskFileError, match="MiB"):
        read_json(tmp_path / WORK / "output.json", limit=1000)
    (tmp_path / WORK / "output.json").write_text("{not json")
    output, note = collect_output(tmp_path)
    assert output is None and "not valid JSON" in note


@pytest.mark.parametrize(
    "record",
    [
        {"state": "PWNED", "exit_code": 0},
        {"state": "COMPLETED", "exit_code": "0; rm -rf"},
        {"state": "COMPLETED", "exit_code": 0, "elapsed_s": -5},
        {"state": "COMPLETED", "exit_code": True},
        ["COMPLETED"],
    ],
)
def test_a_forged_state_record_is_ignored(tmp_path: Path, record: object) -> None:
    (tmp_path / "state.json").write_text(json.dumps(record))
    assert runner_record(tmp_path) is None


def test_a_runner_record_of_the_right_shape_is_read(tmp_path: Path) -> None:
    record = {"state": "FAILED", "exit_code": 3, "elapsed_s": 1.5, "error": "ValueError: x"}
    (tmp_path / "state.json").write_text(json.dumps(record))
    assert runner_record(tmp_path) == record
