"""``--backend auto``: the fastest backend that can run here, and one line saying why.

The order is TensorRT (built into the engine cache on first use), then torch on CUDA (fp16,
channels_last, its own stream, pinned uploads), then torch on the CPU. The decision is split
in two so it can be tested anywhere: ``probe`` looks at the machine, ``plan`` (pure) turns
what it found into candidates, and ``select_engine`` opens the first candidate that works,
falling through (and saying so) when, say, an engine build fails.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..model.checkpoint import CheckpointError, load_checkpoint
from .base import Engine

Note = Callable[[str], None]


@dataclass(frozen=True)
class Capabilities:
    """What the machine offers: CUDA devices torch can use, and why TensorRT can't run."""

    torch_cuda_devices: int
    tensorrt_missing: str | None  # None: TensorRT, pycuda, ONNX tools and a GPU are all here


@dataclass(frozen=True)
class Choice:
    backend: str
    device: str
    reason: str


def probe() -> Capabilities:
    devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return Capabilities(devices, tensorrt_missing())


def tensorrt_missing() -> str | None:
    """Why the tensorrt backend cannot run here, or None when it can."""
    for module, extra in (("tensorrt", "tensorrt"), ("pycuda", "tensorrt"), ("onnx", "onnx"),
                          ("onnxruntime", "onnx")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'streamdemoire[{extra}]')"
    try:
        import pycuda.driver as cuda

        cuda.init()
        if cuda.Device.count() == 0:
            return "no CUDA GPU"
    except Exception as exc:  # pycuda raises its own error types for a missing driver
        return f"CUDA is not usable from pycuda: {exc}"
    return None


def plan(device: str | None, caps: Capabilities) -> list[Choice]:
    """Candidates for ``device`` ("auto"/None, "cpu", "cuda", "cuda:N"), best first."""
    wanted = None if device in (None, "", "auto") else torch.device(device)
    if wanted is not None and wanted.type == "cpu":
        return [Choice("torch", "cpu", "torch on cpu (fp32): the CPU was asked for")]
    gpu = f"cuda:{wanted.index or 0}" if wanted is not None else "cuda:0"
    choices = []
    if caps.tensorrt_missing is None:
        choices.append(Choice("tensorrt", gpu, f"tensorrt on {gpu}: TensorRT and a GPU are here"))
    trt_why = f"TensorRT unavailable: {caps.tensorrt_missing}" if caps.tensorrt_missing \
        else "TensorRT failed"
    if caps.torch_cuda_devices:
        choices.append(Choice("torch", gpu, f"torch on {gpu} (fp16): {trt_why}"))
    elif wanted is not None:
        return choices  # a GPU was asked for by name: running on the CPU would not be it
    else:
        choices.append(Choice("torch", "cpu", f"torch on cpu (fp32): torch sees no CUDA GPU; "
                                              f"{trt_why}"))
    return choices


def open_choice(choice: Choice, checkpoint: Path | None, note: Note) -> Engine:
    """Open one candidate; raises whatever its backend raises."""
    if choice.backend == "tensorrt":
        from .tensorrt_engine import open_cached

        return open_cached(checkpoint, choice.device, note=note)
    from .torch_engine import TorchEngine

    return TorchEngine(load_checkpoint(checkpoint), device=choice.device)


def select_engine(device: str | None, checkpoint: Path | None, note: Note,
                  caps: Capabilities | None = None) -> tuple[Engine, str]:
    """The first candidate that opens, and the line that says which and why."""
    caps = caps or probe()
    failures = []
    choices = plan(device, caps)
    if not choices:
        raise RuntimeError(f"device {device} asked for, but torch sees no CUDA GPU and "
                           f"{caps.tensorrt_missing}")
    for choice in choices:
        try:
            engine = open_choice(choice, checkpoint, note)
        except CheckpointError:
            raise  # the same checkpoint would fail every backend
        except (RuntimeError, ImportError, OSError) as exc:
            failures.append(f"{choice.backend} on {choice.device} failed: {exc}")
            note(f"{failures[-1]}; trying the next backend")
            continue
        reason = choice.reason if not failures else f"{choice.reason} ({'; '.join(failures)})"
        return engine, reason
    raise RuntimeError("; ".join(failures))
