"""Sharpening of the network's output, so that text is as crisp as on the screen.

The network is trained by MSE, whose optimum is the mean of what the frame could show: where
the camera's blur leaves an edge's place uncertain by a pixel, the mean is a soft edge. So text
came out with 0.84 (640x360) to 0.88 (1280x720) of the clean frame's gradient energy, where
issue 3 asks for 0.9-1.1, and the real photos' clean twins, which are sharper than anything a
phone records, were further from the output than they need be.

An unsharp mask on the luma (the frame plus ``amount`` times its luma minus a 3 x 3 Gaussian
blur of it, sigma 1 px) fixes both: on the trainer's validation pairs (simulated, seeds apart
from the benchmark's) 0.25 brings text to 0.965 of the clean's energy for 0.07 dB, and on the
real pairs it adds 0.12 dB of colour-fitted PSNR, every pair gaining (docs/model.md). Not more:
text the network already renders crisply gets sharper too (a simulated scrolling-text clip
went from 1.13 to 1.27 at 0.25, losing 0.4 dB), so the default aims at the lower half of the
band.

Only the luma: text's edges are there, and sharpening R, G and B as well, leftover moiré
being mostly colour, cost more PSNR for the same crispness (0.10 against 0.07 dB for 0.965).
Teaching the network to sharpen itself instead (training towards its own sharpened output)
came out softer and lost more PSNR.

It runs on the engine's device after the network (``Demoirer.infer``), in place, the blur as
separable slices rather than a convolution: a one-channel convolution took 22 ms per 720p
frame on this CPU, the whole sharpening takes 7-11 ms (the network's median 140-165).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .temporal import luma

#: The amount every command and ``Demoirer`` use unless told otherwise (0 turns it off).
DEFAULT_AMOUNT = 0.25
#: The most it takes: past 2 the mask draws dark and light halos around every edge.
MAX_AMOUNT = 2.0

#: The 3-tap Gaussian (sigma 1 px): each neighbour's and the centre's weight.
_SIDE = math.exp(-0.5) / (1 + 2 * math.exp(-0.5))
_CENTRE = 1 - 2 * _SIDE


def check_amount(amount: float) -> None:
    """Refuse an amount outside [0, MAX_AMOUNT] with one line."""
    if not 0 <= amount <= MAX_AMOUNT:
        raise ValueError(f"sharpen must be in [0, {MAX_AMOUNT}], got {amount}")


def blur3(plane: torch.Tensor) -> torch.Tensor:
    """A 3 x 3 Gaussian blur (sigma 1 px) of N x 1 x H x W, edges replicated."""
    padded = F.pad(plane, (1, 1, 1, 1), mode="replicate")
    rows = torch.add(padded[..., :-2], padded[..., 2:]).mul_(_SIDE)
    rows.add_(padded[..., 1:-1], alpha=_CENTRE)
    out = torch.add(rows[..., :-2, :], rows[..., 2:, :]).mul_(_SIDE)
    return out.add_(rows[..., 1:-1, :], alpha=_CENTRE)


def sharpen_(frames: torch.Tensor, amount: float = DEFAULT_AMOUNT) -> torch.Tensor:
    """Add ``amount`` times the luma's detail to all three channels of ``frames`` (N x 3 x H x
    W in [0, 1]), in place, and clip to [0, 1]; returns ``frames``.

    The detail is added through the N x H x W x 3 view: the engines' outputs are channels-last
    on the CPU, where that view is contiguous and adding per channel was 40% slower.
    """
    if amount == 0 or frames.numel() == 0:
        return frames
    y = luma(frames)
    detail = y.sub_(blur3(y)).mul_(amount)
    frames.permute(0, 2, 3, 1).add_(detail[:, 0, :, :, None])
    return frames.clamp_(0.0, 1.0)
