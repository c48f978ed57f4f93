"""The PyTorch backend: the embedded default, on the CPU or on a CUDA GPU."""

from __future__ import annotations

import os

import torch

from ..model.checkpoint import Checkpoint
from .base import Engine
from .cpu_net import CpuDemoireNet, supports


class TorchEngine(Engine):
    """CPU: fp32, channels_last, all cores. CUDA: fp16, channels_last, its own CUDA stream.

    On the CPU in fp32 the network runs as ``CpuDemoireNet`` (engine/cpu_net.py): the same
    function and weights with the unshuffle, shuffle, ReLUs and residual adds folded into the
    convolutions or done in place (720p on 2 cores: 131-139 ms instead of 155-178). Those
    passes are memory-bound CPU work a GPU hardly notices, so CUDA runs ``DemoireNet`` as it is.
    """

    name = "torch"

    def __init__(self, checkpoint: Checkpoint, device: str = "cpu", half: bool | None = None):
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {device} asked for, but CUDA is not available")
        if self.device.type == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        self.half = (self.device.type == "cuda") if half is None else half
        self.dtype = torch.float16 if self.half else torch.float32
        net = checkpoint.build().to(self.device, dtype=self.dtype)
        self.net: torch.nn.Module = net.to(memory_format=torch.channels_last)
        if self.device.type == "cpu" and self.dtype == torch.float32 and supports(net.config):
            self.net = CpuDemoireNet(net)
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def _infer(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.to(self.dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            if self.stream is None:
                return self.net(x).float()
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(self.stream):
                out = self.net(x).float()
            torch.cuda.current_stream(self.device).wait_stream(self.stream)
            return out

    def describe(self) -> str:
        return f"torch on {self.device} ({'fp16' if self.half else 'fp32'})"
