"""streamdemoire.files: every file the project writes appears whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from streamdemoire import files


def test_write_whole_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "scores.json"
    target.write_text("old")
    files.write_whole(target, "new ünicode")
    files.write_whole(tmp_path / "plan.engine", memoryview(b"\x00\x01"))
    assert target.read_text() == "new ünicode"
    assert (tmp_path / "plan.engine").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.engine", "scores.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_whole(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_the_file_gets_the_permissions_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        files.write_whole(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640


def test_part_paths_are_hidden_beside_the_target_with_its_extension(tmp_path):
    a, b = (files.part_path(tmp_path / "clip.mp4") for _ in range(2))
    assert a != b and a.parent == tmp_path and a.name.startswith(".clip.mp4.")
    assert a.suffix == ".mp4"
