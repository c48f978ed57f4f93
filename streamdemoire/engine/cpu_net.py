"""DemoireNet's forward pass rearranged for the CPU: the same network, 15-20% less time.

On a 2-core CPU at 720p the convolutions already run near the cores' peak (oneDNN, fp32,
channels_last); over a quarter of the time went to memory-bound passes around them (72 of
254 ms of single-thread CPU per frame; 38 ms now; docs/bench.md). This module
computes the same function with fewer of those passes, all on the trained weights (nothing is
retrained, and the outputs agree with ``DemoireNet`` to float rounding, ~1e-7; see
tests/test_engine_cpu.py):

- **The pixel unshuffle is folded into the first convolution.** Unshuffling by 2 and then a 3x3
  convolution (padding 1) is one 6x6 convolution with stride 2 (padding 2) on the frame itself,
  whose weights are the 3x3 ones scattered over the four phases. One pass over the frame
  instead of a reordering copy plus a convolution.
- **ReLUs and residual adds run inside the convolutions** (oneDNN post-ops, through the
  ``mkldnn._convolution_pointwise`` operators that ``torch.compile`` itself emits on the CPU),
  instead of as separate passes over each activation. Where those operators are missing
  (a build without oneDNN), the same steps run as plain in-place ops.
- **The pixel shuffle is folded into the final add.** With the head's output channels reordered
  from (colour, row phase, column phase) to (row phase, column phase, colour), the shuffled
  residual is a strided view of the head's channels_last output that lines up with the
  channels_last frame six floats at a time, so it is added in place without being shuffled
  into a tensor of its own first.
- **Elementwise steps work in place** on tensors nothing else holds (upsampled laterals, the
  shading gain, the output), which saves allocating (and the kernel zero-filling) a
  frame-sized tensor each.
- **The exposure is kept in place** (``keep_exposure_``): ``net.keep_exposure``'s two
  full-frame powers go into scratch memory the network no longer needs.

Only for the CPU in fp32: on a GPU, the unshuffle, ReLUs and adds are cheap next to the
convolutions (and TensorRT fuses them itself), so ``TorchEngine`` runs ``DemoireNet`` there.
Inference only: the module holds derived weights and does not train.
"""

from __future__ import annotations

from dataclasses import fields

import torch
import torch.nn.functional as F
from torch import nn

from ..model.net import EXPOSURE_GAMMA, DemoireNet, Level, NetConfig

_CL = torch.channels_last

#: The NetConfig fields whose every value this module computes. A network using another
#: field away from its default runs as plain DemoireNet (``supports``), so a feature added to
#: net.py cannot be silently skipped on the CPU.
KNOWN_CONFIG = {"widths", "blocks", "dilations", "shading", "keep_exposure"}


def _fused_conv_available() -> bool:
    op = getattr(torch.ops.mkldnn, "_convolution_pointwise", None)
    return op is not None and torch.backends.mkldnn.is_available()


def unshuffle_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """The 6x6 weights of ``conv3x3(pixel_unshuffle(x, 2))`` as one stride-2 convolution of x.

    Unshuffled channel ``4c + 2i + j`` at (y, x) is the frame's channel c at (2y + i, 2x + j);
    a 3x3 tap (dy, dx) on it reads the frame at (2y + 2(dy - 1) + i, 2x + 2(dx - 1) + j), i.e.
    tap (2dy + i, 2dx + j) of a 6x6 kernel at stride 2 with padding 2.
    """
    out_ch, in_ch = weight.shape[:2]
    w6 = weight.new_zeros(out_ch, in_ch // 4, 6, 6)
    for c in range(in_ch // 4):
        for i in range(2):
            for j in range(2):
                w6[:, c, i::2, j::2] = weight[:, 4 * c + 2 * i + j]
    return w6


def phase_major(n_colours: int) -> list[int]:
    """Head channel order (row phase, column phase, colour) from pixel_shuffle's (colour, ...)."""
    return [4 * c + 2 * i + j for i in range(2) for j in range(2) for c in range(n_colours)]


def supports(config: NetConfig) -> bool:
    """Whether ``CpuDemoireNet`` computes this network (every feature it uses is known here)."""
    default = NetConfig()
    return all(getattr(config, f.name) == getattr(default, f.name)
               for f in fields(NetConfig) if f.name not in KNOWN_CONFIG)


def keep_exposure_(out: torch.Tensor, frames: torch.Tensor, scratch: torch.Tensor,
                   gamma: float = EXPOSURE_GAMMA) -> torch.Tensor:
    """``net.keep_exposure(out, frames)`` in place on ``out``; its two powers, whose means
    are all it needs, are written into ``scratch`` (frame-sized memory nothing else needs)."""
    lin_in = torch.clamp(frames, 0.0, 1.0, out=scratch).pow_(gamma).mean((2, 3), keepdim=True)
    out = out.clamp_(0.0, 1.0)
    lin_out = torch.pow(out, gamma, out=scratch).mean((2, 3), keepdim=True)
    scale = (lin_in / lin_out.clamp(min=1e-6)) ** (1.0 / gamma)
    return out.mul_(scale).clamp_(0.0, 1.0)


class CpuDemoireNet(nn.Module):
    """Computes ``net(frames)`` for fp32 channels_last frames on the CPU; see the module doc.

    Only for networks ``supports`` accepts.
    """

    def __init__(self, net: DemoireNet) -> None:
        super().__init__()
        if not supports(net.config):
            raise ValueError(f"CpuDemoireNet does not know this network: {net.config}")
        net = net.to(memory_format=_CL).eval().requires_grad_(False)
        self.net = net
        self.fused = _fused_conv_available()
        entry = net.enc1.entry
        assert entry.kernel_size == (3, 3) and entry.stride == (1, 1) and entry.padding == (1, 1)
        self.register_buffer("entry_weight", unshuffle_conv_weight(entry.weight.detach())
                             .contiguous(memory_format=_CL))
        order = phase_major(net.head.out_channels // 4)
        self.register_buffer("head_weight", net.head.weight.detach()[order]
                             .contiguous(memory_format=_CL))
        self.register_buffer("head_bias", net.head.bias.detach()[order].clone())

    # -- convolutions with their ReLU or residual add inside (oneDNN post-ops) --------------

    def _conv(self, conv: nn.Conv2d, x: torch.Tensor, relu: bool = False,
              weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
              stride=None, padding=None) -> torch.Tensor:
        weight = conv.weight if weight is None else weight
        bias = conv.bias if bias is None else bias
        stride = conv.stride if stride is None else stride
        padding = conv.padding if padding is None else padding
        if self.fused:
            return torch.ops.mkldnn._convolution_pointwise(
                x, weight, bias, padding, stride, conv.dilation, conv.groups,
                "relu" if relu else "none", [], "")
        y = F.conv2d(x, weight, bias, stride, padding, conv.dilation, conv.groups)
        return F.relu_(y) if relu else y

    def _conv_add(self, conv: nn.Conv2d, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``residual + conv(x)``."""
        if self.fused:
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, residual, conv.weight, conv.bias, conv.padding, conv.stride, conv.dilation,
                conv.groups, "add", None, None, [], None)
        return conv(x).add_(residual)

    def _blocks(self, level: Level, x: torch.Tensor) -> torch.Tensor:
        for block in level.blocks:
            x = self._conv_add(block.conv2, self._conv(block.conv1, x, relu=True), x)
        return x

    def _level(self, level: Level, x: torch.Tensor) -> torch.Tensor:
        return self._blocks(level, self._conv(level.entry, x, relu=True))

    def _lateral(self, lat: nn.Conv2d, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """``skip + up(lat(coarse))``, summed into the upsampled tensor."""
        return self.net._up(self._conv(lat, coarse), skip).add_(skip)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        net = self.net
        frames = frames.contiguous(memory_format=_CL)
        e1 = self._blocks(net.enc1, self._conv(net.enc1.entry, frames, relu=True,
                                               weight=self.entry_weight, stride=(2, 2),
                                               padding=(2, 2)))
        e2 = self._level(net.enc2, e1)
        e3 = self._level(net.enc3, e2)
        e4 = net.colour(self._level(net.enc4, e3))
        d3 = self._level(net.dec3, self._lateral(net.lat3, e4, e3))
        d2 = self._level(net.dec2, self._lateral(net.lat2, d3, e2))
        d1 = self._level(net.dec1, self._lateral(net.lat1, d2, e1))
        if net.shading is not None:  # ShadingGain, in place on the upsampled log-gain
            gain = F.interpolate(self._conv(net.shading.conv, e4), size=frames.shape[-2:],
                                 mode="bilinear", align_corners=False)
            out = gain.clamp_(-1.0, 1.0).exp_().mul_(frames)
        else:
            out = frames.clone()
        residual = self._conv(net.head, d1, weight=self.head_weight, bias=self.head_bias)
        residual = residual.contiguous(memory_format=_CL)
        out = add_pixel_shuffled_(out.contiguous(memory_format=_CL), residual)
        if not net.config.keep_exposure:
            return out
        # The residual is spent: its memory (as many floats as the frame) becomes the scratch.
        n, c, h, w = out.shape
        scratch = residual.permute(0, 2, 3, 1).view(n, h, w, c).permute(0, 3, 1, 2)
        return keep_exposure_(out, frames, scratch)


def add_pixel_shuffled_(out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """``out += pixel_shuffle(residual, 2)`` for phase-major ``residual`` channels, in place.

    Both must be channels_last: ``out`` holds (y, i, x, j, colour) for full-resolution row
    2y + i and column 2x + j, ``residual`` holds (y, x, i, j, colour), so each (y, i, x) step
    adds the six contiguous (j, colour) floats.
    """
    n, c, h, w = out.shape
    target = out.permute(0, 2, 3, 1).view(n, h // 2, 2, w // 2, 2 * c)
    source = residual.permute(0, 2, 3, 1).view(n, h // 2, w // 2, 2, 2 * c).transpose(2, 3)
    target.add_(source)
    return out
