"""Small, deterministic video clips for the temporal smoother's tests.

The simulator (streamdemoire.synth.video) takes seconds per frame, and the shipped model is
still being trained, so these tests make their own stand-in for "the model's output on
hand-held footage of a screen": a clean screen filmed through a hand-held camera (a small
homography per frame: pan, zoom, rotation and tilt), plus what a good but imperfect model
leaves behind, a faint coloured moiré that crawls and changes with every pose, and sensor
noise. Parts of a clip can scroll on their own (a pane inside the screen), a clip can cut to
a different screen, and a photo clip shows fine texture that the camera aliases differently in
every frame (so the clean truth itself changes from frame to frame, as in the simulator).
Everything is in float [0, 1], N x 3 x H x W torch tensors, in about a second per clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: Share of its input's moiré the stand-in model leaves in its output: its input is the clean
#: frame with the leftover moiré at 1 / MOIRE_KEPT times the output's (as evaluate's stand-in).
MOIRE_KEPT = 0.3
#: Supersampling of the screen canvas: frames are sampled from a canvas this much finer, so
#: glyph strokes land at sub-pixel positions and sub-pixel motion is rendered faithfully.
SUPER = 2


@dataclass
class Clip:
    """A test clip: the clean truth, the stand-in model output, and where things happen."""

    clean: torch.Tensor  # N x 3 x H x W
    output: torch.Tensor  # N x 3 x H x W, the "per-frame model output"
    inputs: torch.Tensor  # N x 3 x H x W, what that "model" was handed (see MOIRE_KEPT)
    scenes: list[int]  # scene index per frame
    pane: torch.Tensor  # N x 1 x H x W, True inside the scrolling pane (edges excluded)


def _text_block(rng: np.random.Generator, h: int, w: int, ink: float, paper: float
                ) -> np.ndarray:
    """Lines of glyph-like strokes (small dark rectangles) on paper, in canvas pixels."""
    img = np.full((h, w), paper)
    line = 9 * SUPER
    for top in range(2 * SUPER, h - line, line):
        x = int(rng.integers(1, 4 * SUPER))
        while x < w - 6 * SUPER:
            word = int(rng.integers(3, 8))
            for _ in range(word):
                gw = int(rng.integers(2, 4)) * SUPER
                gh = int(rng.integers(4, 7)) * SUPER
                y0 = top + 7 * SUPER - gh
                img[y0:y0 + gh, x:x + max(SUPER, gw // 2)] = ink
                img[y0:y0 + SUPER, x:x + gw] = ink
                x += gw + SUPER
            x += 3 * SUPER
    return img


def _photo_block(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour blobs with one hard edge: a photo's worth of low-contrast structure."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.zeros((3, h, w))
    for c in range(3):
        for _ in range(4):
            cy, cx, r = rng.uniform(0, 1, 3)
            out[c] += 0.3 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (0.02 + 0.1 * r))
    out += 0.15 * (xx > 0.6 + 0.2 * yy)
    return np.clip(0.2 + out, 0, 1)


def _fur(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fine oriented strands on the lower half of a photo, flat above (hair under a sky): detail
    at the canvas's resolution, finer than the output samples, so every sub-pixel move of the
    camera aliases it anew. +-0.1 or so, a third of the photo's own contrast."""
    noise = rng.normal(0.0, 1.0, (h + 4, w + 4))
    strands = sum(noise[k:k + h, k:k + w] for k in range(4)) / 2.0  # streaks along a diagonal
    below = np.clip((np.arange(h)[:, None] / h - 0.4) * 8, 0, 1)
    return 0.05 * strands * below


def photo_screen(seed: int, h: int, w: int) -> np.ndarray:
    """A 3 x h x w canvas filled by one photo with fine fur-like texture on its lower half."""
    rng = np.random.default_rng(seed)
    return np.clip(_photo_block(rng, h, w) + _fur(rng, h, w)[None], 0, 1)


def screen(seed: int, h: int, w: int) -> np.ndarray:
    """A 3 x h x w canvas (supersampled pixels): text on the left, a photo on the right."""
    rng = np.random.default_rng(seed)
    img = np.empty((3, h, w))
    split = w // 2
    paper = rng.uniform(0.8, 0.95)
    img[:, :, :split] = _text_block(rng, h, split, rng.uniform(0.05, 0.2), paper)[None]
    img[:, :, :split] *= np.array([1.0, 0.97, 0.92])[:, None, None]
    img[:, :, split:] = _photo_block(rng, h, w - split)
    return img


def _pose(t: int, seed: int) -> tuple[float, float, float, float, float, float]:
    """Hand-held pose of frame ``t``: pan x/y (output px), log zoom, rotation (rad), tilt x/y."""
    phase = seed * 1.7
    pan_x = 3.0 * math.sin(0.9 * t + phase) + 0.8 * t
    pan_y = 2.0 * math.sin(0.7 * t + 2 * phase) - 0.5 * t
    zoom = 0.006 * math.sin(0.5 * t + phase)
    rot = math.radians(0.4) * math.sin(0.6 * t + 3 * phase)
    tilt_x = 0.01 * math.sin(0.4 * t + phase)
    tilt_y = 0.01 * math.cos(0.45 * t + phase)
    return pan_x, pan_y, zoom, rot, tilt_x, tilt_y


def _grid(t: int, seed: int, h: int, w: int, canvas_h: int, canvas_w: int) -> torch.Tensor:
    """grid_sample grid (1 x h x w x 2) placing frame ``t``'s view on the canvas."""
    pan_x, pan_y, zoom, rot, tilt_x, tilt_y = _pose(t, seed)
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64) - (h - 1) / 2,
                          torch.arange(w, dtype=torch.float64) - (w - 1) / 2, indexing="ij")
    u, v = x / (w / 2), y / (h / 2)
    denom = 1.0 + tilt_x * u + tilt_y * v  # perspective: the screen is not square to the lens
    s, c = math.sin(rot) * math.exp(zoom), math.cos(rot) * math.exp(zoom)
    gx = (c * x - s * y) / denom + pan_x
    gy = (s * x + c * y) / denom + pan_y
    # output px -> canvas px (the view sits in the canvas centre) -> normalised
    cx = (gx * SUPER + canvas_w / 2) / canvas_w * 2 - 1
    cy = (gy * SUPER + canvas_h / 2) / canvas_h * 2 - 1
    return torch.stack([cx, cy], -1)[None].float()


def _leftover_moire(t: int, seed: int, h: int, w: int, amplitude: float) -> torch.Tensor:
    """A faint coloured moiré, fine and coarse, whose phase and angle change every frame.

    Moiré is a beat between the display's and the sensor's grids, so the slightest change of
    pose moves it a lot: here its phase jumps about a radian a frame and its angle wanders.
    """
    rng = np.random.default_rng([seed, t])
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                          torch.arange(w, dtype=torch.float32), indexing="ij")
    out = torch.zeros(3, h, w)
    for period, share, colour in ((3.3, 0.6, (1.0, -0.7, 0.5)), (23.0, 0.4, (0.6, 1.0, -0.8))):
        angle = 0.6 + 0.15 * math.sin(0.8 * t + seed) + rng.normal(0, 0.03)
        wave = torch.sin(2 * math.pi / period * (x * math.cos(angle) + y * math.sin(angle))
                         + 1.1 * t + rng.uniform(0, 0.5))
        out += share * amplitude * wave[None] * torch.tensor(colour)[:, None, None]
    return out


def render(seed: int = 0, n: int = 12, h: int = 96, w: int = 160, *, cut_at: int | None = None,
           scroll_px: float = 0.0, moire: float = 0.04, noise: float = 0.01,
           photo: bool = False) -> Clip:
    """A clip of ``n`` frames. ``cut_at``: the frame where a second, different screen begins.
    ``scroll_px``: output pixels per frame that a pane (the text's middle third) scrolls up.
    ``photo``: the screen shows :func:`photo_screen`, not antialiased, so its texture aliases
    (give it a small ``moire`` and ``noise``: a model output that is nearly clean there)."""
    margin = 24
    ch, cw = (h + 2 * margin) * SUPER, (w + 2 * margin) * SUPER
    pane = (h // 3, w // 10, h // 3, w * 3 // 10)
    screens = [_antialias(screen(seed, ch, cw)),
               _antialias(screen(seed + 1000, ch, cw)[:, :, ::-1])]
    if photo:
        screens[0] = photo_screen(seed, ch, cw)
    strip = _antialias(_text_block(np.random.default_rng(seed + 7), ch * 2, cw // 2, 0.1,
                                   0.9)[None])[0]
    gen = torch.Generator().manual_seed(seed)
    # The pane's inside, 4 output px in from its border: pixels near the border see both
    # motions, and the camera's own blur spreads them.
    pane_mask = torch.zeros(1, 1, ch, cw)
    top, left, ph, pw = ((v + margin) * SUPER if i < 2 else v * SUPER
                         for i, v in enumerate(pane))
    inset = 4 * SUPER
    pane_mask[..., top + inset:top + ph - inset, left + inset:left + pw - inset] = 1.0
    clean, scenes, masks = [], [], []
    for t in range(n):
        scene = int(cut_at is not None and t >= cut_at)
        canvas = screens[scene].copy()
        if scroll_px and scene == 0:
            _paste_pane(canvas, strip, pane, margin, scroll_px * t)
        grid = _grid(t + 40 * scene, seed + scene, h, w, ch, cw)
        frame = F.grid_sample(torch.from_numpy(canvas).float()[None], grid, mode="bilinear",
                              padding_mode="border", align_corners=False)
        clean.append(frame[0].clamp(0, 1))
        masks.append(F.grid_sample(pane_mask, grid, align_corners=False)[0] > 0.99)
        scenes.append(scene)
    truth = torch.stack(clean)
    leftover = torch.stack([_leftover_moire(t, seed, h, w, moire) for t in range(n)])
    grain = noise * torch.randn(truth.shape, generator=gen)
    output = (truth + leftover + grain).clamp(0, 1)
    inputs = (truth + leftover / MOIRE_KEPT + grain).clamp(0, 1)
    pane_masks = torch.stack(masks) & (torch.tensor(scenes) == 0)[:, None, None, None]
    return Clip(truth, output, inputs, scenes, pane_masks)


def _paste_pane(canvas: np.ndarray, strip: np.ndarray, pane: tuple[int, int, int, int],
                margin: int, offset: float) -> None:
    """Put the part of ``strip`` scrolled by ``offset`` output px into the pane (in place).

    The pane is given in output pixels of an unmoved camera; it is pasted into the canvas at
    the matching place (the camera's pan keeps it within the view)."""
    top, left, ph, pw = ((v + margin) * SUPER if i < 2 else v * SUPER
                         for i, v in enumerate(pane))
    shift = int(round(offset * SUPER))
    canvas[:, top:top + ph, left:left + pw] = strip[shift:shift + ph, :pw][None]


def _antialias(canvas: np.ndarray) -> np.ndarray:
    """A small [1 2 1] / 4 blur of a C x H x W canvas, as the lens and the sensor would."""
    p = np.pad(canvas, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = 0.25 * p[:, :, :-2] + 0.5 * p[:, :, 1:-1] + 0.25 * p[:, :, 2:]
    return 0.25 * rows[:, :-2] + 0.5 * rows[:, 1:-1] + 0.25 * rows[:, 2:]

