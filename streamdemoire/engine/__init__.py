"""Backends that run the demoiré network; ``create_engine`` picks and builds one."""

from __future__ import annotations

from pathlib import Path

from ..model.checkpoint import load_checkpoint
from .base import Engine, frames_to_tensor, tensor_to_frames

BACKENDS = ("torch",)

__all__ = ["BACKENDS", "Engine", "create_engine", "frames_to_tensor", "tensor_to_frames"]


class EngineError(RuntimeError):
    """The asked-for backend or device cannot run here; the message says why."""


def create_engine(backend: str = "torch", device: str = "cpu",
                  checkpoint: Path | None = None) -> Engine:
    """Build the engine for ``backend`` on ``device`` from ``checkpoint`` (default: shipped)."""
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    ckpt = load_checkpoint(checkpoint)
    from .torch_engine import TorchEngine

    try:
        return TorchEngine(ckpt, device=device)
    except RuntimeError as exc:
        raise EngineError(str(exc)) from None
