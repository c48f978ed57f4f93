"""The demoiré network: a light multi-scale encoder-decoder for real-time video.

Moiré spans periods from 2 px to well over 50 px at 1080p, so the network needs a receptive
field of a few hundred pixels without paying full-resolution convolutions for it. It gets
there the way the published real-time demoiré networks do (ESDNet, MBCNN, UHDM):

- the frame is pixel-unshuffled by 2 first, so no convolution runs at full resolution and
  nothing is lost (the four phases become channels, which also lets the network see the
  colour-filter-array phase that drives fine moiré);
- four scales (1/2 .. 1/16); the coarsest runs dilated convolutions, giving a receptive field
  of roughly 400 px at full resolution;
- a global branch (pooled features to a per-channel scale and shift) handles the frame-wide
  tone and colour cast that camera-of-a-screen footage carries;
- a shading head predicts, at the coarsest scale, a smooth per-channel gain that multiplies
  the input: vignetting and a screen's viewing-angle falloff are multiplicative and smooth,
  which a residual of ReLU features can only approximate;
- the output is a residual on the (shading-corrected) input, pixel-shuffled back to full
  resolution, rescaled to the input's mean linear light per channel: the camera set the
  exposure, and the filter only moves light around.

Only Conv, ReLU, Resize (bilinear), DepthToSpace/SpaceToDepth, GlobalAveragePool, Sigmoid,
Clip, Exp, Pow, ReduceMean, Div, Mul and Add: all export to ONNX opset 17 and run natively in
TensorRT.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Input height and width are padded to a multiple of this (four stride-2 levels after the
#: pixel unshuffle).
STRIDE = 32


@dataclass(frozen=True)
class NetConfig:
    """Architecture hyper-parameters; stored in every checkpoint so it rebuilds itself."""

    widths: tuple[int, int, int, int] = (16, 32, 64, 96)
    blocks: tuple[int, int, int, int] = (0, 1, 1, 3)
    dilations: tuple[int, ...] = (1, 2, 4)
    #: The shading head; False rebuilds checkpoints from before it existed.
    shading: bool = False
    #: Keep each frame's per-channel mean linear light (see ``keep_exposure``); False
    #: rebuilds checkpoints from before it existed.
    keep_exposure: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip; dilation widens the view at no extra cost."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels, dilation=dilation)
        self.conv2 = conv3x3(channels, channels, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class GlobalColour(nn.Module):
    """Per-channel scale and shift from pooled features: frame-wide tone and white balance."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels, 1)
        self.fc2 = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(x, 1)
        scale, shift = self.fc2(F.relu(self.fc1(pooled))).chunk(2, dim=1)
        return x * (2.0 * torch.sigmoid(scale)) + shift


class ShadingGain(nn.Module):
    """A smooth per-channel gain from the coarsest features, upsampled to the frame.

    Predicted as a log-gain (so 0 is "no change", and darkening and brightening are equally
    easy) and bounded to a factor of e either way; starts at exactly 0.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 3, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, features: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        log_gain = F.interpolate(self.conv(features), size=frames.shape[-2:], mode="bilinear",
                                 align_corners=False)
        return frames * torch.exp(log_gain.clamp(-1.0, 1.0))


#: The display gamma ``keep_exposure`` takes the frames' values to linear light with.
EXPOSURE_GAMMA = 2.2


def keep_exposure(out: torch.Tensor, frames: torch.Tensor,
                  gamma: float = EXPOSURE_GAMMA) -> torch.Tensor:
    """``out`` rescaled per frame and channel to ``frames``' mean linear light.

    A phone's auto exposure and white balance meter the whole frame's linear light, and the
    simulator's pairs share those means; moiré and shading only move light around. So the
    network may redistribute light but not re-expose: without this, shading corrections
    learnt on the simulator shifted real photos' levels (raw PSNR -0.8 dB on the real pairs,
    though their colour-fitted PSNR rose by 1 dB). Scaling linear light by ``s`` is scaling
    the frame by ``s ** (1 / gamma)``, so only the two means need powers.
    """
    out = out.clamp(0.0, 1.0)
    lin_in = (frames.clamp(0.0, 1.0) ** gamma).mean((2, 3), keepdim=True)
    lin_out = (out ** gamma).mean((2, 3), keepdim=True)
    scale = (lin_in / lin_out.clamp(min=1e-6)) ** (1.0 / gamma)
    return (out * scale).clamp(0.0, 1.0)


class Level(nn.Module):
    """One encoder or decoder scale: an entry convolution followed by residual blocks."""

    def __init__(self, cin: int, cout: int, blocks: int, stride: int, dilations=(1,)) -> None:
        super().__init__()
        self.entry = conv3x3(cin, cout, stride=stride)
        self.blocks = nn.Sequential(
            *[ResBlock(cout, dilations[i % len(dilations)]) for i in range(blocks)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(F.relu(self.entry(x)))


class DemoireNet(nn.Module):
    """Maps N x 3 x H x W RGB in [0, 1] (H, W multiples of STRIDE) to the cleaned frames."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetConfig()
        w, b = self.config.widths, self.config.blocks
        self.unshuffle = nn.PixelUnshuffle(2)
        self.enc1 = Level(12, w[0], b[0], stride=1)
        self.enc2 = Level(w[0], w[1], b[1], stride=2)
        self.enc3 = Level(w[1], w[2], b[2], stride=2)
        self.enc4 = Level(w[2], w[3], b[3], stride=2, dilations=self.config.dilations)
        self.colour = GlobalColour(w[3])
        self.shading = ShadingGain(w[3]) if self.config.shading else None
        self.lat3 = nn.Conv2d(w[3], w[2], 1)
        self.dec3 = Level(w[2], w[2], 1, stride=1)
        self.lat2 = nn.Conv2d(w[2], w[1], 1)
        self.dec2 = Level(w[1], w[1], 1, stride=1)
        self.lat1 = nn.Conv2d(w[1], w[0], 1)
        self.dec1 = Level(w[0], w[0], 0, stride=1)
        self.head = nn.Conv2d(w[0], 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @staticmethod
    def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.forward_with_residual(frames)[0]

    def forward_with_residual(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cleaned frames and the residual the head added to the shading-corrected input.

        Training reads the residual: shading and residual can cancel each other's low
        frequencies (a gain that flattens a gradient wallpaper, a residual that puts it back),
        and only a penalty on the residual's coarse part says which of the two owns them.
        """
        e1 = self.enc1(self.unshuffle(frames))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.colour(self.enc4(e3))
        d3 = self.dec3(e3 + self._up(self.lat3(e4), e3))
        d2 = self.dec2(e2 + self._up(self.lat2(d3), e2))
        d1 = self.dec1(e1 + self._up(self.lat1(d2), e1))
        base = self.shading(e4, frames) if self.shading is not None else frames
        residual = self.shuffle(self.head(d1))
        out = base + residual
        return (keep_exposure(out, frames) if self.config.keep_exposure else out), residual


def pad_to_stride(frames: torch.Tensor, stride: int = STRIDE) -> tuple[torch.Tensor, int, int]:
    """Reflect-pad N x C x H x W up to a multiple of ``stride``; returns the original H, W.

    Reflection (not zeros) keeps the padded border looking like image, so the network does not
    invent edges there; the caller crops back with the returned size.
    """
    h, w = frames.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if ph or pw:
        mode = "reflect" if (ph < h and pw < w) else "replicate"
        frames = F.pad(frames, (0, pw, 0, ph), mode=mode)
    return frames, h, w
