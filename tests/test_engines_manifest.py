"""Manifest rules: what makes an engine runnable here, cache keys, the rebuild command."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

import pytest

from streamdemoire.engine.manifest import (
    ENGINE_DIR_ENV,
    BuildParams,
    Profile,
    Target,
    cache_key,
    default_engine_dir,
    list_engines,
    mismatches,
    new_manifest,
    parse_shape,
    read_manifest,
    rebuild_command,
    write_manifest,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import build_engine  # noqa: E402  (tools/ is not a package)

SHA = "ab" * 32
TARGET = Target("10.8.0", "NVIDIA L4", "8.9")


def engine_manifest(params: BuildParams | None = None) -> dict:
    """A manifest as a finished build on TARGET from checkpoint SHA writes it."""
    m = new_manifest(params or BuildParams(), Path("ckpt.pt"), SHA, "cd" * 32, TARGET, {})
    m["engine"] = {"file": "x.engine", "sha256": "ef" * 32}
    return m


def test_matching_manifest_has_no_mismatch():
    assert mismatches(engine_manifest(), TARGET, SHA) == []


@pytest.mark.parametrize("change, expected", [
    ({"tensorrt": "10.9.0"}, "TensorRT 10.8.0"),
    ({"compute_capability": "8.6"}, "compute capability 8.9"),
    ({"gpu_name": "NVIDIA A10"}, "built on NVIDIA L4"),
])
def test_other_tensorrt_or_gpu_is_a_mismatch(change, expected):
    here = dataclasses.replace(TARGET, **change)
    (reason,) = mismatches(engine_manifest(), here, SHA)
    assert expected in reason


def test_other_checkpoint_and_onnx_only_and_missing_are_mismatches():
    assert "checkpoint" in mismatches(engine_manifest(), TARGET, "00" * 32)[0]
    onnx_only = new_manifest(BuildParams(), Path("c.pt"), SHA, "cd" * 32, None, {})
    reasons = mismatches(onnx_only, TARGET, SHA)
    assert any("no engine" in r for r in reasons) and any("TensorRT None" in r for r in reasons)
    assert mismatches(None, TARGET, SHA) == ["no readable manifest"]
    assert "format" in mismatches({"format": "old"}, TARGET, SHA)[0]


def test_cache_key_names_every_build_parameter():
    params = BuildParams("fp16", Profile((1, 3, 256, 256), (4, 3, 720, 1280), (8, 3, 1088, 1920)),
                         opset=18, opt_level=4, workspace_mb=1024)
    key = cache_key(params, SHA, TARGET)
    for part in (SHA[:12], "fp16", "n1.4.8", "h256.720.1088", "w256.1280.1920", "op18", "o4",
                 "ws1024", "trt10.8.0", "sm89"):
        assert part in key.split("-")
    variants = [dataclasses.replace(params, **{f: v}) for f, v in
                [("precision", "fp32"), ("opset", 17), ("opt_level", 3), ("workspace_mb", 2048),
                 ("profile", Profile())]]
    variants.append(BuildParams("int8", calibration_sha256="12" * 32))
    keys = {cache_key(p, SHA, TARGET) for p in variants} | {key}
    assert len(keys) == len(variants) + 1
    assert cache_key(params, SHA, dataclasses.replace(TARGET, compute_capability="9.0")) != key
    assert cache_key(params, SHA, None).endswith("ws1024")  # ONNX only: no TensorRT part


def test_profile_and_params_validation():
    with pytest.raises(ValueError):
        Profile((1, 3, 512, 512), (1, 3, 256, 256), (1, 3, 1088, 1920))
    with pytest.raises(ValueError):
        BuildParams("int8")  # no calibration
    with pytest.raises(ValueError):
        BuildParams("fp8")
    assert parse_shape("4x3x1088x1920") == (4, 3, 1088, 1920)
    with pytest.raises(ValueError):
        parse_shape("1088x1920")
    assert Profile().covers((2, 3, 720, 1280)) and not Profile().covers((1, 3, 2160, 3840))


def test_rebuild_command_reproduces_the_build(tmp_path):
    params = BuildParams("bf16", Profile((1, 3, 256, 256), (2, 3, 720, 1280), (4, 3, 1088, 1920)),
                         opt_level=5, workspace_mb=4096)
    line = rebuild_command(engine_manifest(params), Path("my ckpt.pt"), tmp_path, "cam1")
    argv = shlex.split(line)
    assert argv[:3] == ["python", "tools/build_engine.py", "my ckpt.pt"]
    args = build_engine.parse_args(argv[2:])
    assert (args.precision, args.opt_level, args.workspace_mb, args.name) == \
        ("bf16", 5, 4096, "cam1")
    assert parse_shape(args.opt) == (2, 3, 720, 1280) and args.out == tmp_path
    assert "--precision fp16" in rebuild_command(None, Path("c.pt"), tmp_path, "x")


def test_rebuild_command_keeps_int8_calibration_source(tmp_path):
    params = BuildParams("int8", calibration_sha256="12" * 32)
    m = new_manifest(params, Path("c.pt"), SHA, "cd" * 32, TARGET, {}, "frames/cam1")
    assert "--calib frames/cam1" in rebuild_command(m, Path("c.pt"), tmp_path, "x")


def test_manifest_round_trip_and_listing(tmp_path):
    write_manifest(tmp_path / "a.json", engine_manifest())
    (tmp_path / "a.engine").write_bytes(b"plan")
    (tmp_path / "junk.json").write_text("{not json")
    assert read_manifest(tmp_path / "a.json")["gpu"]["name"] == "NVIDIA L4"
    assert read_manifest(tmp_path / "junk.json") is None
    (entry,) = list_engines(tmp_path)
    assert entry["name"] == "a" and entry["engine"] and entry["tensorrt"] == "10.8.0"


def test_engine_dir_override(monkeypatch, tmp_path):
    monkeypatch.setenv(ENGINE_DIR_ENV, str(tmp_path))
    assert default_engine_dir() == tmp_path
    monkeypatch.delenv(ENGINE_DIR_ENV)
    assert default_engine_dir().name == "engines"
