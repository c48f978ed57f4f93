"""Backends that run the demoiré network; ``create_engine`` picks and builds one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from ..model.checkpoint import CheckpointError, load_checkpoint
from .base import Engine, frames_to_tensor, tensor_to_frames

BACKENDS = ("torch", "tensorrt", "auto")

__all__ = ["BACKENDS", "Engine", "create_engine", "frames_to_tensor", "tensor_to_frames"]

log = logging.getLogger("streamdemoire.engine")


class EngineError(RuntimeError):
    """The asked-for backend or device cannot run here; the message says why."""


def create_engine(backend: str = "torch", device: str = "cpu",
                  checkpoint: Path | None = None, *, engine_path: Path | None = None,
                  note: Callable[[str], None] | None = None) -> Engine:
    """Build the engine for ``backend`` on ``device`` from ``checkpoint`` (default: shipped).

    ``backend="auto"`` picks tensorrt, else torch on CUDA, else torch on the CPU; which and
    why is logged at INFO level, and a candidate that fails is reported through ``note``, as
    is a first-use TensorRT build. ``note`` defaults to
    a warning on the ``streamdemoire.engine`` logger, which the CLI prints as a notice.
    ``engine_path`` names a TensorRT engine to run as is (refused if it does not match
    this GPU, TensorRT and checkpoint); without it the engine cache is used.
    """
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    note = note or log.warning
    if engine_path is not None:
        if backend == "torch":
            raise EngineError("--engine names a TensorRT engine: use it with --backend tensorrt")
        backend = "tensorrt"
    try:
        return _open(backend, device, checkpoint, engine_path, note)
    except (CheckpointError, EngineError):
        raise
    except (RuntimeError, ImportError, OSError) as exc:
        raise EngineError(f"{backend} backend: {exc}") from None


def _open(backend: str, device: str, checkpoint: Path | None, engine_path: Path | None,
          note: Callable[[str], None]) -> Engine:
    if backend == "auto":
        from .select import select_engine

        engine, reason = select_engine(device, checkpoint, note)
        log.info("backend auto: %s", reason)  # a fallback after a failure was already noted
        return engine
    if backend == "tensorrt":
        from .select import tensorrt_missing

        missing = tensorrt_missing()
        if missing:
            raise EngineError(f"tensorrt backend: {missing}")
        from .tensorrt_engine import open_cached, open_named

        if engine_path is not None:
            return open_named(engine_path, checkpoint, device)
        return open_cached(checkpoint, device, note=note)
    from .torch_engine import TorchEngine

    if device in ("", "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return TorchEngine(load_checkpoint(checkpoint), device=device)
