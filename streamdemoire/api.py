"""The library API for people who script streamdemoire."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .engine import create_engine, frames_to_tensor, tensor_to_frames


class Demoirer:
    """Remove moiré from batches of frames.

    >>> dm = Demoirer(backend="torch", device="cpu")
    >>> clean = dm(frames)  # uint8 RGB, N x H x W x 3 in, same shape and dtype out
    """

    def __init__(self, backend: str = "torch", device: str = "cpu",
                 checkpoint: str | Path | None = None,
                 engine_path: str | Path | None = None) -> None:
        self.engine = create_engine(backend, device, Path(checkpoint) if checkpoint else None,
                                    engine_path=Path(engine_path) if engine_path else None)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames of shape (N, H, W, 3), got "
                             f"{frames.dtype} {frames.shape}")
        if frames.shape[0] == 0:
            return frames.copy()
        return tensor_to_frames(self.engine(frames_to_tensor(frames, self.engine.device)))
