"""Backend selection: auto prefers tensorrt, then torch CUDA, then torch CPU, and says why."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import torch

from streamdemoire.engine import BACKENDS, EngineError, create_engine, select
from streamdemoire.engine.select import Capabilities, Choice, plan, select_engine
from streamdemoire.model.checkpoint import save_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig

NO_TRT = "tensorrt is not installed (pip install 'streamdemoire[tensorrt]')"


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, DemoireNet(NetConfig(widths=(4, 4, 4, 4), blocks=(0, 0, 0, 0))), {})
    return path


def backends(choices: list[Choice]) -> list[tuple[str, str]]:
    return [(c.backend, c.device) for c in choices]


def test_backends_listed_for_the_cli():
    assert {"torch", "tensorrt", "auto"} <= set(BACKENDS)


def test_plan_prefers_tensorrt_then_torch_cuda():
    choices = plan("auto", Capabilities(torch_cuda_devices=1, tensorrt_missing=None))
    assert backends(choices) == [("tensorrt", "cuda:0"), ("torch", "cuda:0")]


def test_plan_without_tensorrt_uses_torch_cuda_and_says_why():
    (choice,) = plan(None, Capabilities(1, NO_TRT))
    assert (choice.backend, choice.device) == ("torch", "cuda:0")
    assert "fp16" in choice.reason and "tensorrt is not installed" in choice.reason


def test_plan_without_gpu_falls_back_to_cpu_only_when_no_gpu_was_named():
    (choice,) = plan("auto", Capabilities(0, "no CUDA GPU"))
    assert (choice.backend, choice.device) == ("torch", "cpu")
    assert "no CUDA GPU" in choice.reason
    assert plan("cuda:1", Capabilities(0, "no CUDA GPU")) == []


def test_plan_keeps_the_asked_gpu_and_honours_cpu():
    assert backends(plan("cuda:1", Capabilities(2, None)))[0] == ("tensorrt", "cuda:1")
    assert backends(plan("cpu", Capabilities(2, None))) == [("torch", "cpu")]


def test_tensorrt_failure_falls_through_with_its_reason(monkeypatch, checkpoint):
    opened = []

    def fake_open(choice, ckpt, note):
        if choice.backend == "tensorrt":
            raise RuntimeError("engine build failed")
        opened.append(choice)
        return "engine"

    monkeypatch.setattr(select, "open_choice", fake_open)
    engine, reason = select_engine("auto", checkpoint, print, Capabilities(1, None))
    assert engine == "engine" and opened[0].backend == "torch"
    assert "engine build failed" in reason and reason.startswith("torch on cuda:0")


def test_auto_here_is_torch_on_cpu_with_a_reason(checkpoint, caplog):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the fallback is tested by test_plan_*")
    notes = []
    with caplog.at_level(logging.INFO, logger="streamdemoire.engine"):
        engine = create_engine("auto", "auto", checkpoint, note=notes.append)
    assert engine.name == "torch" and engine.device.type == "cpu"
    assert notes == []  # nothing failed, so nothing to warn about
    assert caplog.messages[-1].startswith("backend auto: torch on cpu (fp32): ")
    frames = torch.rand(1, 3, 40, 72)
    assert engine(frames).shape == frames.shape


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                    reason="TensorRT is installed here")
def test_tensorrt_backend_without_tensorrt_is_one_clear_error(checkpoint):
    with pytest.raises(EngineError, match=r"^tensorrt backend: tensorrt is not installed"):
        create_engine("tensorrt", "cuda", checkpoint)


def test_unknown_backend_and_torch_default_unchanged(checkpoint):
    with pytest.raises(EngineError, match="unknown backend"):
        create_engine("onnx", "cpu", checkpoint)
    assert create_engine("torch", "cpu", checkpoint).describe() == "torch on cpu (fp32)"
