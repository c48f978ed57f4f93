"""The Engine protocol: what every backend (torch, tensorrt) offers the pipeline.

An engine takes a batch of frames already on its device as float N x 3 x H x W RGB in [0, 1],
of any H and W, and returns the cleaned batch in the same layout on the same device. Keeping
the frames on the device lets the temporal smoother run there too, with no host round trip.
Padding to the network's stride and cropping back happen here, once, for every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from ..model.net import STRIDE, pad_to_stride


class Engine(ABC):
    #: Backend name as the CLI spells it ("torch", "tensorrt").
    name: str
    #: torch device string frames must live on ("cpu", "cuda:0").
    device: torch.device

    @abstractmethod
    def _infer(self, frames: torch.Tensor) -> torch.Tensor:
        """Run the network on frames whose H and W are multiples of STRIDE."""

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        padded, h, w = pad_to_stride(frames, STRIDE)
        out = self._infer(padded)
        return out[..., :h, :w].clamp(0.0, 1.0)  # not in place: `out` is an inference tensor

    def describe(self) -> str:
        """One line for logs and --json: backend, device and precision."""
        return f"{self.name} on {self.device}"


def frames_to_tensor(frames: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 N x H x W x 3 (numpy or tensor) to float N x 3 x H x W in [0, 1] on ``device``.

    The uint8 copy crosses to the device first (a quarter of the bytes of float), and the
    conversion runs there.
    """
    if isinstance(frames, np.ndarray) and not frames.flags.writeable:
        frames = frames.copy()  # torch cannot share read-only memory (e.g. Pillow's)
    t = torch.as_tensor(frames)
    if t.device != device:
        t = t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def tensor_to_frames(frames: torch.Tensor) -> np.ndarray:
    """Float N x 3 x H x W in [0, 1] to a uint8 N x H x W x 3 numpy array on the host.

    The first operation writes the N x H x W x 3 layout, so frames in either layout (the
    network's channels-last, the smoother's plain one) are reordered within a pass that runs
    anyway: a copy into channels-last first, or a reordering of the uint8 result after, cost
    a pass more (2.7 ms per 720p frame on this CPU).
    """
    n, c, h, w = frames.shape
    out = torch.empty((n, h, w, c), dtype=frames.dtype, device=frames.device)
    torch.mul(frames.permute(0, 2, 3, 1), 255.0, out=out)
    return out.round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
