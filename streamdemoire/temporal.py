"""Temporal smoothing of the model's output: no flicker, no ghosts.

Per-frame demoiréing shimmers: the little moiré the model leaves moves from frame to frame as
the camera sways. A recursive filter averages it away where the picture holds still, once the
hand-held camera's own motion is compensated:

1. global motion: phase correlation of overlapping blocks of the downscaled luma gives a shift
   per block; a robust least-squares fit turns them into one affine map (pan, zoom, rotation
   and, to first order, tilt), and a few Gauss-Newton steps on the thumbnail refine it to a
   fraction of a pixel. Blocks that move on their own (a scrolling pane, a video on the screen)
   are outvoted, not averaged in;
2. the last output is warped by that map and clamped to this frame's local minimum and maximum
   (the history clamp of temporal anti-aliasing), so history can never bring back a colour the
   current frame does not have nearby;
3. per pixel, the history's weight falls with the low-passed residual between the warped
   history and this frame: leftover moiré is fine-grained and averages out of the low-pass,
   while misplaced structure (scrolling text, a cursor, a video on the screen, a motion the
   affine map does not model) does not, so there the output follows the current frame and
   leaves no trail;
4. a scene cut (the thumbnails do not match even after compensation), a size change or an
   explicit ``reset()`` (a reconnect) starts the history afresh.

It runs in torch on the frames' device, so on a GPU the frames never leave it; only a handful
of scalars (the cut decision) come back to the host. One instance keeps the state of one stream.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

#: The history's largest weight where the picture holds still (``--temporal-strength``):
#: 0.9 averages leftover moiré over some ten frames where nothing moves; wherever anything
#: does, the weights below take over within the frame.
DEFAULT_STRENGTH = 0.9
#: Longest side of the luma thumbnail the motion is estimated on: large enough that a pixel of
#: it is at most ~5 pixels of a 720p frame (so the refined fit is sub-pixel there), small
#: enough that the estimate costs a few milliseconds.
MOTION_SIDE = 256
#: Frames smaller than this on either side are passed through as they are: too few pixels to
#: tell the camera's motion from anything else (and a 1 x 1 frame has no motion at all).
MIN_SIDE = 16
#: Side of the square blocks phase correlation runs on, and their stride, in thumbnail pixels.
#: A hand-held camera moves a few pixels per frame, well inside a block's quarter.
BLOCK = 64
BLOCK_STRIDE = 32
#: Gauss-Newton refinements of the affine fit on the thumbnail.
REFINE_STEPS = 3
#: Residual (thumbnail luma, [0, 1] units) at which a pixel's vote in the fit has halved: a
#: pixel that moves on its own should not pull the camera's motion along.
FIT_RESIDUAL = 0.03
#: Scene-cut test on the compensated thumbnails: a cut when their correlation falls below this.
#: The same screen filmed a frame later correlates above 0.8 even with moiré and noise.
CUT_CORRELATION = 0.5
#: Root-mean-square luma residual (warped history against this frame, [0, 1] units, over a
#: 3 x 3 window) at which the history's weight has fallen to ~37% of ``strength``. Leftover
#: moiré and noise that changed since the last frame stay below it and are averaged away;
#: anything the warp did not line up (scrolling text, a cursor, a video on the screen, a
#: motion the affine map misses) rises above it, and there the output follows the current
#: frame: no trail. Fine texture that the camera aliases anew every frame changes by less
#: (0.004-0.012 rms between a simulated clean frame and its best-warped predecessor), so it
#: is left to ``DETAIL_SCALE``; where the output is nearly clean that is not enough (see
#: docs/temporal.md). A scale measured per frame instead (a few times the residual of the
#: frame's quietest quarter) fixes that case but stops smoothing leftover moiré that covers
#: only part of the frame, the common case (the bright half of a web page), so it was not
#: kept.
RESIDUAL_SCALE = 0.04
#: Fine-detail energy (root-mean-square of the luma minus its 3 x 3 mean, over a 3 x 3
#: window) at which the history's weight has fallen to ~37% again: in fine texture the camera
#: itself samples a little differently every frame, so history there costs detail, and
#: leftover moiré is hardly visible in it anyway.
DETAIL_SCALE = 0.02
#: Radius of the windows the residual and the detail are measured over, in pixels.
WINDOW_RADIUS = 1

_LUMA = (0.299, 0.587, 0.114)


def luma(frames: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W RGB to N x 1 x H x W luma."""
    w = torch.tensor(_LUMA, device=frames.device, dtype=frames.dtype).view(1, 3, 1, 1)
    return (frames * w).sum(1, keepdim=True)


def thumbnail(frame: torch.Tensor, frame_luma: torch.Tensor | None = None) -> torch.Tensor:
    """Downscaled luma (H' x W') of a 1 x 3 x H x W frame, longest side at most MOTION_SIDE
    (``frame_luma``: its luma, where the caller has it already).

    The area filter also averages most of the leftover moiré away, which would otherwise pull
    the motion estimate towards the moiré's own crawl.
    """
    h, w = frame.shape[-2:]
    factor = max(1.0, max(h, w) / MOTION_SIDE)
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    frame_luma = luma(frame) if frame_luma is None else frame_luma
    return F.interpolate(frame_luma, size=size, mode="area")[0, 0]


def _block_origins(length: int) -> list[int]:
    """Start of each block along a side: every BLOCK_STRIDE, the last one flush with the end."""
    if length <= BLOCK:
        return [0]
    starts = list(range(0, length - BLOCK + 1, BLOCK_STRIDE))
    return starts if starts[-1] == length - BLOCK else [*starts, length - BLOCK]


def _blocks(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Overlapping square blocks of an H x W image (B x S x S) and their centres (B x 2, x y
    in pixels). Images smaller than a block give one block of their own size."""
    h, w = img.shape
    side = min(BLOCK, h, w)
    ys = [y for y in _block_origins(h)] if h > BLOCK else [(h - side) // 2]
    xs = [x for x in _block_origins(w)] if w > BLOCK else [(w - side) // 2]
    blocks = torch.stack([img[y:y + side, x:x + side] for y in ys for x in xs])
    centres = torch.tensor([(x + side / 2, y + side / 2) for y in ys for x in xs],
                           device=img.device, dtype=img.dtype)
    return blocks, centres


def block_shifts(ref: torch.Tensor, cur: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-block shift of ``cur`` against ``ref`` (two H x W thumbnails) by phase correlation.

    Returns the block centres (B x 2, x y), the shifts (B x 2, x y: cur(p) ~ ref(p - shift))
    and the correlation peaks' heights (B), a confidence: near 1 for a clean match, near 0 for
    a flat or changing block. A Hann window keeps the block borders from dominating; a parabola
    through the peak and its neighbours gives the sub-pixel part. All on the device.
    """
    a, centres = _blocks(ref)
    b, _ = _blocks(cur)
    n, s, _ = a.shape
    hann = torch.hann_window(s, periodic=False, device=ref.device, dtype=ref.dtype)
    win = torch.outer(hann, hann)
    fa = torch.fft.rfft2((a - a.mean((1, 2), keepdim=True)) * win)
    fb = torch.fft.rfft2((b - b.mean((1, 2), keepdim=True)) * win)
    cross = fb * fa.conj()
    corr = torch.fft.irfft2(cross / (cross.abs() + 1e-9), s=(s, s))
    peak = corr.flatten(1).argmax(1)
    py, px = peak // s, peak % s
    rows = torch.arange(n, device=ref.device)

    def refine(minus: torch.Tensor, mid: torch.Tensor, plus: torch.Tensor) -> torch.Tensor:
        denom = minus - 2 * mid + plus
        safe = torch.where(denom.abs() < 1e-9, torch.ones_like(denom), denom)
        return torch.where(denom.abs() < 1e-9, torch.zeros_like(denom),
                           (0.5 * (minus - plus) / safe).clamp(-0.5, 0.5))

    height = corr[rows, py, px]
    dy = py + refine(corr[rows, (py - 1) % s, px], height, corr[rows, (py + 1) % s, px])
    dx = px + refine(corr[rows, py, (px - 1) % s], height, corr[rows, py, (px + 1) % s])
    dy = torch.where(dy > s / 2, dy - s, dy)
    dx = torch.where(dx > s / 2, dx - s, dx)
    return centres, torch.stack([dx, dy], 1), height


def _normalise(points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pixel positions (x y, pixel centres at +0.5) to grid_sample's [-1, 1] coordinates."""
    scale = torch.tensor([2.0 / w, 2.0 / h], device=points.device, dtype=points.dtype)
    return points * scale - 1.0


def fit_affine(centres: torch.Tensor, shifts: torch.Tensor, confidence: torch.Tensor,
               h: int, w: int) -> torch.Tensor:
    """The 2 x 3 affine map (normalised coordinates, current -> previous frame) that best
    explains the block shifts of an H x W thumbnail.

    Weighted least squares, reweighted a few times by each block's misfit, so blocks that move
    on their own are outvoted rather than averaged in. With fewer than three blocks only a
    translation is fitted, as an affine map would be underdetermined.
    """
    here = _normalise(centres, h, w)
    there = _normalise(centres - shifts, h, w)
    if len(centres) < 3:
        weights = confidence.clamp_min(1e-6)
        move = ((there - here) * weights[:, None]).sum(0) / weights.sum()
        eye = torch.eye(2, device=centres.device, dtype=centres.dtype)
        return torch.cat([eye, move[:, None]], 1)
    design = torch.cat([here, torch.ones_like(here[:, :1])], 1)
    weights = confidence.clamp_min(1e-3)
    pixel = torch.tensor([2.0 / w, 2.0 / h], device=centres.device, dtype=centres.dtype)
    for _ in range(4):
        ridge = 1e-6 * torch.eye(3, device=centres.device, dtype=centres.dtype)
        normal = design.T @ (design * weights[:, None]) + ridge
        theta = torch.linalg.lstsq(normal, design.T @ (there * weights[:, None])).solution.T
        misfit = ((design @ theta.T - there) / pixel).norm(dim=1)  # in thumbnail pixels
        weights = confidence.clamp_min(1e-3) / (1.0 + misfit**2)
    return theta


def warp(img: torch.Tensor, theta: torch.Tensor, padding: str = "border",
         mode: str = "bilinear") -> torch.Tensor:
    """Resample N x C x H x W at ``theta`` (2 x 3, normalised coordinates); where the map
    reaches outside the image, the edges are replicated (``padding="border"``) or zeros come
    in (``"zeros"``). ``mode="bicubic"`` for the history: it is resampled again every frame,
    and bilinear's blur would pile up (a fractional shift is a [0.5, 0.5] filter)."""
    grid = F.affine_grid(theta[None].expand(len(img), 2, 3), list(img.shape),
                         align_corners=False)
    return F.grid_sample(img, grid, mode=mode, padding_mode=padding, align_corners=False)


def refine_affine(ref: torch.Tensor, cur: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """A few robust Gauss-Newton steps on ``theta`` so that ``warp(ref, theta)`` matches ``cur``
    (two H x W thumbnails). Phase correlation's sub-pixel peak is biased by a tenth of a pixel
    or so; at 720p a thumbnail pixel is ~5 frame pixels, so that bias would be visible."""
    h, w = ref.shape
    y = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=ref.device, dtype=ref.dtype)
    x = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=ref.device, dtype=ref.dtype)
    v, u = torch.meshgrid(y, x, indexing="ij")
    target = cur[None, None]
    for _ in range(REFINE_STEPS):
        moved = warp(ref[None, None], theta)
        # Gradients of the warped reference in normalised units (d/du = d/dx * w / 2).
        gx = (torch.roll(moved, -1, 3) - torch.roll(moved, 1, 3))[0, 0] * (w / 4)
        gy = (torch.roll(moved, -1, 2) - torch.roll(moved, 1, 2))[0, 0] * (h / 4)
        inner = (slice(2, -2), slice(2, -2))  # drop the rolled-over and replicated borders
        jac = torch.stack([gx * u, gx * v, gx, gy * u, gy * v, gy], -1)[inner].reshape(-1, 6)
        residual = (moved - target)[0, 0][inner].reshape(-1)
        weights = 1.0 / (1.0 + (residual / FIT_RESIDUAL) ** 2)
        normal = jac.T @ (jac * weights[:, None])
        normal = normal + 1e-6 * normal.diagonal().mean() * torch.eye(
            6, device=ref.device, dtype=ref.dtype)
        step, info = torch.linalg.solve_ex(normal, -(jac.T @ (weights * residual)))
        if info.item() != 0 or not bool(torch.isfinite(step).all()):
            break  # a featureless picture: keep the phase-correlation estimate
        theta = theta + step.view(2, 3)
    return theta


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of two equally shaped images (a 0-d tensor, on their device)."""
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / ((a * a).sum() * (b * b).sum()).sqrt().clamp_min(1e-12)


def _window(img: torch.Tensor, radius: int, reduce: Callable[[torch.Tensor, torch.Tensor],
                                                             torch.Tensor]) -> torch.Tensor:
    """Reduce N x C x H x W over each pixel's (2 radius + 1)^2 window, edges replicated.

    Separable, as shifted slices: on a CPU this is several times faster than ``max_pool2d`` or
    ``avg_pool2d`` with stride 1, and it is the same few element-wise kernels on a GPU.
    """
    h, w = img.shape[-2:]
    padded = F.pad(img, (radius, radius, radius, radius), mode="replicate")
    rows = padded[..., :, 0:w]
    for dx in range(1, 2 * radius + 1):
        rows = reduce(rows, padded[..., :, dx:dx + w])
    out = rows[..., 0:h, :]
    for dy in range(1, 2 * radius + 1):
        out = reduce(out, rows[..., dy:dy + h, :])
    return out


def box_mean(img: torch.Tensor, radius: int = WINDOW_RADIUS) -> torch.Tensor:
    """Mean of each pixel's (2 radius + 1)^2 window, edges replicated."""
    return _window(img, radius, torch.add) / (2 * radius + 1) ** 2


def clamp_to_neighbourhood(history: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """``history`` limited, per channel, to ``frame``'s 3 x 3 minimum and maximum (the history
    clamp of temporal anti-aliasing): history may smooth what the current frame shows, never
    bring back a colour it does not have nearby."""
    low = _window(frame, 1, torch.minimum)
    high = _window(frame, 1, torch.maximum)
    return torch.minimum(torch.maximum(history, low), high)


def history_weight(history: torch.Tensor, frame: torch.Tensor, strength: float,
                   current: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel weight (N x 1 x H x W) of the warped history: ``strength`` where it matches the
    current frame within the leftover moiré's level (``RESIDUAL_SCALE``), falling fast where it
    does not, and in fine texture (``DETAIL_SCALE``), where the camera's own sampling changes
    from frame to frame. ``current`` is ``luma(frame)`` where the caller has it already.

    The energies are squared per pixel at full resolution (so a fine ripple counts in full)
    and then averaged over 2 x 2 blocks and a 3 x 3 window of those: the weight map is
    smooth anyway, and at half resolution it costs a quarter.
    """
    current = luma(frame) if current is None else current
    residual = luma(history) - current
    detail = current - box_mean(current)
    energy = (F.avg_pool2d(residual * residual, 2, ceil_mode=True) / RESIDUAL_SCALE**2
              + F.avg_pool2d(detail * detail, 2, ceil_mode=True) / DETAIL_SCALE**2)
    weight = strength * torch.exp(-box_mean(energy))
    return F.interpolate(weight, scale_factor=2, mode="nearest")[..., :frame.shape[-2],
                                                                  :frame.shape[-1]]


class TemporalSmoother:
    """Motion-adaptive recursive filter over a stream of frames (one stream per instance).

    ``strength`` in [0, 1) is the largest weight the history gets where the picture holds
    still; 0 turns smoothing off. ``cuts`` counts the scene cuts detected since the last reset.
    """

    def __init__(self, strength: float = DEFAULT_STRENGTH) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError("temporal strength must be in [0, 1)")
        self.strength = strength
        self.reset()

    def reset(self) -> None:
        """Forget the history: after a reconnect; cuts and size changes reset on their own."""
        self._history: torch.Tensor | None = None
        self._thumb: torch.Tensor | None = None
        self.cuts = 0

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """Smooth a batch (N x 3 x H x W, in stream order), continuing the stream's history."""
        if self.strength == 0.0:
            return frames
        with torch.inference_mode():
            return torch.cat([self._step(f[None]) for f in frames])

    def _step(self, frame: torch.Tensor) -> torch.Tensor:
        if min(frame.shape[-2:]) < MIN_SIDE:
            self._history = self._thumb = None
            return frame
        current = luma(frame)
        thumb = thumbnail(frame, current)
        history, previous = self._history, self._thumb
        if history is None or previous is None or history.shape != frame.shape:
            return self._restart(frame, thumb)
        theta = camera_motion(previous, thumb)
        if correlation(warp(previous[None, None], theta)[0, 0], thumb).item() < CUT_CORRELATION:
            self.cuts += 1
            return self._restart(frame, thumb)
        warped = clamp_to_neighbourhood(warp(history, theta, mode="bicubic"), frame)
        weight = history_weight(warped, frame, self.strength, current)
        out = frame + weight * (warped - frame)
        self._history, self._thumb = out, thumb
        return out

    def _restart(self, frame: torch.Tensor, thumb: torch.Tensor) -> torch.Tensor:
        self._history, self._thumb = frame, thumb
        return frame


def camera_motion(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Affine map (2 x 3, normalised coordinates) from the current thumbnail to the previous
    one: block phase correlation for a robust start, Gauss-Newton for the last fraction of a
    pixel."""
    h, w = current.shape
    centres, shifts, confidence = block_shifts(previous, current)
    return refine_affine(previous, current, fit_affine(centres, shifts, confidence, h, w))
