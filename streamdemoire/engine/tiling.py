"""Run a fixed-size model over frames larger than it accepts: overlapping tiles, blended.

A TensorRT engine accepts shapes up to its profile's maximum (1080p by default); a 4K frame
is cut into overlapping tiles, each tile runs on its own, and the tiles are put back with
weights that fade to zero towards every tile edge that lies inside the frame. Blending
(rather than butting tiles together) is what keeps seams invisible.

Why the tiles line up exactly: a convolution near a tile's edge sees padding, not the
neighbouring pixels, so each tile's outer ``margin`` pixels are given weight zero; with a
margin at least the model's receptive radius, every pixel with weight is computed exactly
as in a whole-frame run, and any convex blend of exact values is exact. Tile origins are
multiples of the network stride (pixel-unshuffle and stride-2 levels make the network
shift-equivariant only by whole strides). Our network also has a frame-wide colour branch
(global pooling), which no tiling can reproduce exactly: tiles of 1080p see nearly the
same statistics as the whole frame, and the blend hides what differs.

Written in torch so it works for any engine and on any device, CPU included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch

from ..model.net import STRIDE

#: Pixels where two neighbouring tiles overlap, by default.
DEFAULT_OVERLAP = 192
#: Pixels at each inner tile edge that get no weight (padding artefacts live there).
DEFAULT_MARGIN = 64


def tile_starts(length: int, tile: int, overlap: int, align: int = STRIDE) -> list[int]:
    """Origins of tiles of size ``tile`` covering ``length`` with at least ``overlap``.

    Origins are multiples of ``align`` except that the last tile ends flush with the edge
    (so ``length`` and ``tile`` should themselves be multiples of ``align``).
    """
    if tile >= length:
        return [0]
    if overlap >= tile:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    step = max(align, (tile - overlap) // align * align)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def edge_ramp(size: int, margin: int, ramp: int, fade_start: bool, fade_end: bool,
              device: torch.device | None = None) -> torch.Tensor:
    """1-D weights: 0 for ``margin`` pixels, rising linearly over ``ramp``, then 1.

    Only edges inside the frame fade (``fade_start``/``fade_end``); a frame border keeps
    full weight, since no other tile covers it.
    """
    x = torch.arange(size, dtype=torch.float32, device=device) + 0.5
    w = torch.ones(size, dtype=torch.float32, device=device)
    if fade_start:
        w = torch.minimum(w, ((x - margin) / ramp).clamp(0.0, 1.0))
    if fade_end:
        w = torch.minimum(w, ((size - x - margin) / ramp).clamp(0.0, 1.0))
    return w


#: Maps an iterable of input tensors to their outputs, in order. ``lambda xs: map(fn, xs)``
#: for a plain function; an engine passes a runner that keeps several inputs in flight.
Runner = Callable[[Iterable[torch.Tensor]], Iterable[torch.Tensor]]


def tiled_apply(run: Runner, frames: torch.Tensor, tile: tuple[int, int],
                overlap: int = DEFAULT_OVERLAP, margin: int = DEFAULT_MARGIN,
                align: int = STRIDE) -> torch.Tensor:
    """``run`` over ``frames`` (N x C x H x W) in tiles of at most ``tile`` = (h, w).

    Each output tile has its input's shape. The result is accumulated in fp32 on the
    frames' device; the tiles themselves never leave it.
    """
    if 2 * margin >= overlap:
        raise ValueError(f"overlap {overlap} must exceed twice the margin {margin}")
    n, c, height, width = frames.shape
    th, tw = min(tile[0], height), min(tile[1], width)
    boxes = [(y, x) for y in tile_starts(height, th, overlap, align)
             for x in tile_starts(width, tw, overlap, align)]
    tiles = (frames[..., y:y + th, x:x + tw].contiguous() for y, x in boxes)
    if len(boxes) == 1:
        return next(iter(run(tiles)))
    ramp = overlap - 2 * margin
    out = torch.zeros((n, c, height, width), dtype=torch.float32, device=frames.device)
    weight = torch.zeros((height, width), dtype=torch.float32, device=frames.device)
    for (y, x), result in zip(boxes, run(tiles), strict=True):
        wy = edge_ramp(th, margin, ramp, y > 0, y + th < height, frames.device)
        wx = edge_ramp(tw, margin, ramp, x > 0, x + tw < width, frames.device)
        w2 = wy[:, None] * wx[None, :]
        out[..., y:y + th, x:x + tw] += result.float() * w2
        weight[y:y + th, x:x + tw] += w2
    return out / weight


def split_batches(run: Runner, inputs: Iterable[torch.Tensor], max_batch: int
                  ) -> Iterator[torch.Tensor]:
    """``run`` over inputs cut into at most ``max_batch`` frames (an engine's largest batch).

    The pieces of all inputs go to ``run`` as one stream, so a runner that keeps several
    pieces in flight overlaps them across input boundaries too.
    """
    counts: list[int] = []

    def pieces() -> Iterator[torch.Tensor]:
        for x in inputs:
            parts = x.split(max_batch)
            counts.append(len(parts))
            yield from parts

    outputs = iter(run(pieces()))
    for first in outputs:
        rest = [next(outputs) for _ in range(counts.pop(0) - 1)]
        yield torch.cat([first, *rest]) if rest else first


def pad_to_min(frames: torch.Tensor, min_hw: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
    """Replicate-pad frames smaller than an engine's minimum H or W; returns the old H, W."""
    h, w = frames.shape[-2:]
    ph, pw = max(0, min_hw[0] - h), max(0, min_hw[1] - w)
    if ph or pw:
        frames = torch.nn.functional.pad(frames, (0, pw, 0, ph), mode="replicate")
    return frames, h, w
