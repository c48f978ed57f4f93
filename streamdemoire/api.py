"""The library API for people who script streamdemoire."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .engine import create_engine, frames_to_tensor, tensor_to_frames
from .sharpen import DEFAULT_AMOUNT, check_amount, sharpen_
from .temporal import DEFAULT_STRENGTH, TemporalSmoother


class Inferred(NamedTuple):
    """What the network stage hands the smoothing stage: the network's (sharpened) output and
    the frames it was given, both float N x 3 x H x W on the engine's device. The smoother
    reads from the two where the network took moiré out (streamdemoire.temporal); without
    smoothing the inputs are not kept (None), so they do not wait in the queue between the
    two stages for nothing (a batch of four 720p frames is 44 MB)."""

    output: torch.Tensor
    inputs: torch.Tensor | None


class Demoirer:
    """Remove moiré from batches of frames.

    >>> dm = Demoirer(backend="torch", device="cpu")
    >>> clean = dm(frames)  # uint8 RGB, N x H x W x 3 in, same shape and dtype out

    ``temporal=True`` smooths the output over time (streamdemoire.temporal): successive calls
    are then frames of one stream, in order, and the history carries across them; call
    ``reset()`` where a new stream begins (a reconnect, the next file). It is off by default
    here because a library caller may pass unrelated images; the CLI turns it on.

    ``sharpen`` is the amount of luma sharpening after the network (streamdemoire.sharpen;
    0 turns it off): the network alone is softer than the screen.
    """

    def __init__(self, backend: str = "torch", device: str = "cpu",
                 checkpoint: str | Path | None = None,
                 engine_path: str | Path | None = None, *, temporal: bool = False,
                 temporal_strength: float = DEFAULT_STRENGTH,
                 sharpen: float = DEFAULT_AMOUNT) -> None:
        check_amount(sharpen)
        self.engine = create_engine(backend, device, Path(checkpoint) if checkpoint else None,
                                    engine_path=Path(engine_path) if engine_path else None)
        self.smoother = TemporalSmoother(temporal_strength) if temporal else None
        self.sharpen = sharpen

    def for_stream(self, temporal: bool = True, temporal_strength: float = DEFAULT_STRENGTH,
                   sharpen: float = DEFAULT_AMOUNT) -> Demoirer:
        """A Demoirer for one new stream that shares this one's engine: a worker loads the
        model once and gives each job its own temporal history and options."""
        check_amount(sharpen)
        stream = copy.copy(self)
        stream.smoother = TemporalSmoother(temporal_strength) if temporal else None
        stream.sharpen = sharpen
        return stream

    def reset(self) -> None:
        """Start a new stream: forget the temporal history (a no-op without ``temporal``)."""
        if self.smoother is not None:
            self.smoother.reset()

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return self.smooth(self.infer(frames))

    def stages(self) -> list[Callable]:
        """``__call__`` in the two halves a ``Pipeline`` runs in threads of their own, so that
        the smoother works on one batch while the network works on the next: ``infer`` (any
        order) then ``smooth`` (in stream order). Composed, they are ``__call__``."""
        return [self.infer, self.smooth]

    def infer(self, frames: np.ndarray) -> Inferred:
        """The network and its sharpening: uint8 N x H x W x 3 in; float N x 3 x H x W out on
        the engine's device, with the input beside it."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames of shape (N, H, W, 3), got "
                             f"{frames.dtype} {frames.shape}")
        inputs = frames_to_tensor(frames, self.engine.device)
        kept = inputs if self.smoother is not None else None
        if frames.shape[0] == 0:
            return Inferred(inputs, kept)
        return Inferred(sharpen_(self.engine(inputs), self.sharpen), kept)

    def smooth(self, inferred: Inferred) -> np.ndarray:
        """The network's output smoothed over time (with ``temporal``; the stream's batches
        in order), as uint8 N x H x W x 3 on the host."""
        out = inferred.output
        if self.smoother is not None and len(out):
            out = self.smoother(out, inferred.inputs)
        return tensor_to_frames(out)
