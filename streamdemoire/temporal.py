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
   leaves no trail. Strong stripes the network left crawl by more than that low-pass hides, so
   where the network took colour moiré out of its input (the caller hands the input over with
   the output), its output still ripples in colour and the history differs from it in colour
   rather than brightness, the scales widen and those stripes average out too;
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
#: Where the network left strong moiré, its stripes crawl by their own amplitude from frame to
#: frame, far above the two scales above, so those would keep the history out exactly where
#: the flicker is. There the scales widen towards these: wide enough that crawling stripes
#: average out, while the high-contrast edges of content that moves still push the history
#: out. "There" takes three cues at once (:func:`moire_share`), each of which alone lets
#: something through that must not be smoothed (docs/temporal.md has the figures):
MOIRE_RESIDUAL_SCALE = 0.3
MOIRE_DETAIL_SCALE = 0.2
#: 1. the network took colour moiré out of its input there (:func:`colour_ripple` of input
#:    minus output above this level, fully at twice it): a clean screen, where nothing was
#:    removed, keeps the narrow scales however colourful what moves on it is;
REMOVED_LEVEL = 0.01
#: 2. the output itself still carries fine colour ripple there (from this level, fully at
#:    twice it): what the network leaves alternates magenta and green every 2-4 px (0.09-0.16
#:    where the benchmark's web page keeps stripes), while text edges and photo grain are
#:    nearly grey (0.01-0.04);
RIPPLE_LEVEL = 0.04
#: 3. the history differs from the frame less than this many times more in brightness (luma
#:    energy) than in colour (the energy of red and blue minus green): crawling moiré changes
#:    mostly in colour, magenta to green being a small step in luma, while dark text scrolling
#:    under stripes changes in brightness.
BRIGHTNESS_CHANGE_RATIO = 4.0
#: Radius, in half-resolution pixels, of the window the colour ripple is measured over.
RIPPLE_RADIUS = 2

_LUMA = (0.299, 0.587, 0.114)


def luma(frames: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W RGB to N x 1 x H x W luma.

    Three scaled channel slices added in place: a product of the whole frame and a reduction
    over its channels cost three times as much on a CPU (a 3-channel temporary, then a sum
    over a dimension of 3), the more so on channels-last frames, the network's layout.
    """
    out = frames[:, 0:1] * _LUMA[0]
    out.add_(frames[:, 1:2], alpha=_LUMA[1])
    return out.add_(frames[:, 2:3], alpha=_LUMA[2])


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
    """Overlapping square blocks of K x H x W images (K x B x S x S) and their centres (B x 2,
    x y in pixels). Images smaller than a block give one block of their own size."""
    h, w = img.shape[-2:]
    side = min(BLOCK, h, w)
    ys = [y for y in _block_origins(h)] if h > BLOCK else [(h - side) // 2]
    xs = [x for x in _block_origins(w)] if w > BLOCK else [(w - side) // 2]
    blocks = torch.stack([img[:, y:y + side, x:x + side] for y in ys for x in xs], 1)
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
    both, centres = _blocks(torch.stack([ref, cur]))  # both blocks at once: half the calls
    _, n, s, _ = both.shape
    hann = torch.hann_window(s, periodic=False, device=ref.device, dtype=ref.dtype)
    win = torch.outer(hann, hann)
    fa, fb = torch.fft.rfft2((both - both.mean((2, 3), keepdim=True)).mul_(win))
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


def affine_grid(theta: torch.Tensor, h: int, w: int, out: torch.Tensor | None = None
                ) -> torch.Tensor:
    """``F.affine_grid(theta[None], [1, C, h, w], align_corners=False)`` (1 x h x w x 2), up
    to float rounding, written into ``out`` where given (a buffer reused frame after frame).

    ``F.affine_grid`` builds an h x w x 3 base grid and multiplies it by ``theta`` with a
    batched matrix product of inner size 3, which on a CPU cost as much as a third of the
    bicubic resampling itself at 720p (9 ms); the map is separable into a row term and a
    column term, so two broadcast additions of two small vectors write the grid directly.
    ``theta`` stays a tensor on its device (no host round trip on a GPU).
    """
    x = torch.arange(w, device=theta.device, dtype=theta.dtype).mul_(2.0 / w).add_(1.0 / w - 1)
    y = torch.arange(h, device=theta.device, dtype=theta.dtype).mul_(2.0 / h).add_(1.0 / h - 1)
    if out is None:
        out = torch.empty((1, h, w, 2), device=theta.device, dtype=theta.dtype)
    for k in range(2):
        torch.add((y * theta[k, 1] + theta[k, 2])[:, None], (x * theta[k, 0])[None, :],
                  out=out[0, :, :, k])
    return out


def warp(img: torch.Tensor, theta: torch.Tensor, padding: str = "border",
         mode: str = "bilinear", grid: torch.Tensor | None = None) -> torch.Tensor:
    """Resample N x C x H x W at ``theta`` (2 x 3, normalised coordinates); where the map
    reaches outside the image, the edges are replicated (``padding="border"``) or zeros come
    in (``"zeros"``). ``mode="bicubic"`` for the history: it is resampled again every frame,
    and bilinear's blur would pile up (a fractional shift is a [0.5, 0.5] filter). ``grid``:
    a 1 x H x W x 2 buffer to build the sampling grid in (see ``affine_grid``); one grid
    serves the whole batch, which is warped by the same map."""
    grid = affine_grid(theta, img.shape[-2], img.shape[-1], grid)
    return F.grid_sample(img, grid.expand(len(img), -1, -1, -1), mode=mode,
                         padding_mode=padding, align_corners=False)


def refine_affine(ref: torch.Tensor, cur: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """A few robust Gauss-Newton steps on ``theta`` so that ``warp(ref, theta)`` matches ``cur``
    (two H x W thumbnails). Phase correlation's sub-pixel peak is biased by a tenth of a pixel
    or so; at 720p a thumbnail pixel is ~5 frame pixels, so that bias would be visible.

    Only the inner pixels count (the outer two rows and columns have no central difference or
    are replicated border), so the gradients are taken there directly, and the Jacobian's six
    rows are one broadcast product of the two gradients and the (u, v, 1) basis: a handful of
    operations per step instead of some thirty (these small operations were a fifth of the
    smoother's time once the full-resolution ones had been made cheap).
    """
    h, w = ref.shape
    y = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=ref.device, dtype=ref.dtype)
    x = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=ref.device, dtype=ref.dtype)
    basis = torch.ones((3, h - 4, w - 4), device=ref.device, dtype=ref.dtype)
    basis[0] = x[2:-2]
    basis[1] = y[2:-2, None]
    target = cur[2:-2, 2:-2]
    grid = torch.empty((1, h, w, 2), device=ref.device, dtype=ref.dtype)
    gradient = torch.empty((2, h - 4, w - 4), device=ref.device, dtype=ref.dtype)
    for _ in range(REFINE_STEPS):
        moved = warp(ref[None, None], theta, grid=grid)[0, 0]
        # Central differences of the warped reference in normalised units (d/du = d/dx w / 2).
        torch.sub(moved[2:-2, 3:-1], moved[2:-2, 1:-3], out=gradient[0]).mul_(w / 4)
        torch.sub(moved[3:-1, 2:-2], moved[1:-3, 2:-2], out=gradient[1]).mul_(h / 4)
        jac = (gradient[:, None] * basis).view(6, -1)  # gx u, gx v, gx, gy u, gy v, gy
        residual = (moved[2:-2, 2:-2] - target).reshape(-1)
        weights = (residual / FIT_RESIDUAL).square_().add_(1.0).reciprocal_()
        weighted = jac * weights
        normal = weighted @ jac.T
        normal = normal + 1e-6 * normal.diagonal().mean() * torch.eye(
            6, device=ref.device, dtype=ref.dtype)
        step, info = torch.linalg.solve_ex(normal, -(weighted @ residual))
        if info.item() != 0 or not bool(torch.isfinite(step).all()):
            break  # a featureless picture: keep the phase-correlation estimate
        theta = theta + step.view(2, 3)
    return theta


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of two equally shaped images (a 0-d tensor, on their device)."""
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / ((a * a).sum() * (b * b).sum()).sqrt().clamp_min(1e-12)


def _window(img: torch.Tensor, radius: int, reduce: Callable[..., torch.Tensor]
            ) -> torch.Tensor:
    """Reduce N x C x H x W over each pixel's (2 radius + 1)^2 window, edges replicated.

    Separable, as shifted slices: on a CPU this is several times faster than ``max_pool2d`` or
    ``avg_pool2d`` with stride 1, and it is the same few element-wise kernels on a GPU. After
    the first reduction of each pass the rest reduce into that temporary in place (``reduce``
    takes ``out=``: ``torch.add``, ``torch.minimum``, ``torch.maximum``), in the same order.
    """
    if radius == 0:
        return img.clone()
    h, w = img.shape[-2:]
    padded = F.pad(img, (radius, radius, radius, radius), mode="replicate")
    rows = reduce(padded[..., :, 0:w], padded[..., :, 1:1 + w])
    for dx in range(2, 2 * radius + 1):
        reduce(rows, padded[..., :, dx:dx + w], out=rows)
    out = reduce(rows[..., 0:h, :], rows[..., 1:1 + h, :])
    for dy in range(2, 2 * radius + 1):
        reduce(out, rows[..., dy:dy + h, :], out=out)
    return out


def box_mean(img: torch.Tensor, radius: int = WINDOW_RADIUS) -> torch.Tensor:
    """Mean of each pixel's (2 radius + 1)^2 window, edges replicated."""
    return _window(img, radius, torch.add).div_((2 * radius + 1) ** 2)


Buffers = Callable[[str, torch.Tensor, tuple[int, ...]], torch.Tensor]


def _empty(like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """An uninitialised contiguous tensor of ``shape`` with ``like``'s dtype and device."""
    return torch.empty(shape, dtype=like.dtype, device=like.device)


def _fresh(name: str, like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """The ``Buffers`` that keeps nothing (see ``TemporalSmoother._buffer``): a new tensor."""
    del name
    return _empty(like, shape)


def _extreme_3x3(frame: torch.Tensor, reduce: Callable[..., torch.Tensor], out: torch.Tensor,
                 buffer: Buffers) -> torch.Tensor:
    """``_window(frame, 1, reduce)`` for ``torch.minimum`` or ``torch.maximum`` (H, W >= 2),
    into ``out``, with no padded copy: the 3-wide extreme is the extreme of two overlapping
    pairs, and at an edge, where the replicated pixel adds nothing to a minimum or a maximum,
    it is the edge pair itself. Two reductions per direction, into reused buffers; exact (a
    minimum is a selection), so the same values as the padded window."""
    n, c, h, w = frame.shape
    pairs = reduce(frame[..., :, :-1], frame[..., :, 1:],
                   out=buffer("pairs_x", frame, (n, c, h, w - 1)))
    rows = buffer("rows", frame, (n, c, h, w))
    reduce(pairs[..., :, :-1], pairs[..., :, 1:], out=rows[..., :, 1:-1])
    rows[..., :, 0] = pairs[..., :, 0]
    rows[..., :, -1] = pairs[..., :, -1]
    pairs = reduce(rows[..., :-1, :], rows[..., 1:, :],
                   out=buffer("pairs_y", frame, (n, c, h - 1, w)))
    reduce(pairs[..., :-1, :], pairs[..., 1:, :], out=out[..., 1:-1, :])
    out[..., 0, :] = pairs[..., 0, :]
    out[..., -1, :] = pairs[..., -1, :]
    return out


def clamp_to_neighbourhood(history: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """``history`` limited, per channel, to ``frame``'s 3 x 3 minimum and maximum (the history
    clamp of temporal anti-aliasing): history may smooth what the current frame shows, never
    bring back a colour it does not have nearby."""
    if min(frame.shape[-2:]) < 2:
        low, high = _window(frame, 1, torch.minimum), _window(frame, 1, torch.maximum)
        return torch.minimum(torch.maximum(history, low), high)
    return _clamp_into(history, frame, torch.empty_like(history), _fresh)


def _as_bands(img: torch.Tensor, bands: int) -> torch.Tensor:
    """A 1 x C x H x W tensor's ``bands`` horizontal bands as a batch: a bands x C x H/bands x
    W view (H a multiple of ``bands``)."""
    c, h, w = img.shape[1:]
    return img.view(c, bands, h // bands, w).transpose(0, 1)


def _clamp_into(history: torch.Tensor, frame: torch.Tensor, out: torch.Tensor,
                buffer: Buffers, bands: int = 1) -> torch.Tensor:
    """``clamp_to_neighbourhood`` (H, W >= 2) into ``out`` (``frame``'s shape), with scratch
    tensors from ``buffer`` (the smoother reuses its own frame after frame: at 720p each is
    11 MB, and fresh ones cost page faults). One ``torch.clamp`` with both bounds, which is
    ``minimum(maximum(history, low), high)`` in one pass. ``history`` may also come as
    ``bands`` bands (see ``_as_bands``; the smoother's warp): the clamp then reads it and the
    bounds through that view and writes ``out`` whole, so undoing the bands costs no pass of
    its own."""
    shape = tuple(frame.shape)
    low = _extreme_3x3(frame, torch.minimum, buffer("low", frame, shape), buffer)
    high = _extreme_3x3(frame, torch.maximum, buffer("high", frame, shape), buffer)
    if bands > 1:
        torch.clamp(history, _as_bands(low, bands), _as_bands(high, bands),
                    out=_as_bands(out, bands))
    else:
        torch.clamp(history, low, high, out=out)
    return out


def _pool2(img: torch.Tensor) -> torch.Tensor:
    """``F.avg_pool2d(img, 2, ceil_mode=True)``: on even sizes as the sum of the four
    phases (strided slices), seven times faster on a CPU than the pooling kernel; odd sizes,
    whose last row or column averages fewer pixels, take the kernel."""
    h, w = img.shape[-2:]
    if h % 2 or w % 2:
        return F.avg_pool2d(img, 2, ceil_mode=True)
    rows = img[..., 0::2, :] + img[..., 1::2, :]
    return rows[..., 0::2].add_(rows[..., 1::2]).mul_(0.25)


def _colour_energy(rgb: torch.Tensor, fine: bool = False) -> torch.Tensor:
    """Red minus green squared plus blue minus green squared of N x 3 x H x W images, averaged
    over 2 x 2 blocks (N x 1 x H/2 x W/2); ``fine``: each difference less its 3 x 3 mean."""
    energy = None
    for channel in (0, 2):
        difference = rgb[:, channel:channel + 1] - rgb[:, 1:2]
        if fine:
            difference.sub_(box_mean(difference))
        energy = (difference.square_() if energy is None
                  else energy.addcmul_(difference, difference))
    return _pool2(energy)


def colour_ripple(rgb: torch.Tensor) -> torch.Tensor:
    """Fine colour ripple of N x 3 x H x W images at half resolution (N x 1 x H/2 x W/2): the
    root-mean-square of red minus green and blue minus green, less their 3 x 3 means, over a
    window of ``RIPPLE_RADIUS``. Moiré is colourful where screen content mostly is not: a
    display's subpixels and the camera's colour filter array beat separately in each colour,
    so moiré alternates in hue from stripe to stripe."""
    return box_mean(_colour_energy(rgb, fine=True), RIPPLE_RADIUS).sqrt_()


def _ramp(level_map: torch.Tensor, level: float) -> torch.Tensor:
    """0 up to ``level``, 1 from twice it, linear between (in place)."""
    return level_map.sub_(level).mul_(1.0 / level).clamp_(0.0, 1.0)


def moire_share(history: torch.Tensor, frame: torch.Tensor, inputs: torch.Tensor,
                residual_energy: torch.Tensor) -> torch.Tensor:
    """How far (0-1, at half resolution) to widen the history's scales towards
    ``MOIRE_RESIDUAL_SCALE`` and ``MOIRE_DETAIL_SCALE``: the product of the three cues
    listed there, from the network's ``inputs``, its output ``frame`` and the warped
    ``history`` (``residual_energy``: their luma residual squared, 2 x 2 pooled)."""
    removed = _ramp(colour_ripple(inputs - frame), REMOVED_LEVEL)
    ripple = _ramp(colour_ripple(frame), RIPPLE_LEVEL)
    colour_change = box_mean(_colour_energy(history - frame))
    brightness = box_mean(residual_energy).div_(
        colour_change.mul_(BRIGHTNESS_CHANGE_RATIO).add_(1e-6))
    return removed.mul_(ripple).mul_(brightness.neg_().add_(1.0).clamp_(0.0, 1.0))


def _scale(share: torch.Tensor | None, narrow: float, wide: float) -> torch.Tensor | float:
    """A scale squared: ``narrow`` where ``share`` is 0 (or there is no share), ``wide`` where
    it is 1, linear between."""
    if share is None:
        return narrow**2
    return share.mul(wide - narrow).add_(narrow).square_()


def history_weight(history: torch.Tensor, frame: torch.Tensor, strength: float,
                   current: torch.Tensor | None = None, inputs: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Per-pixel weight (N x 1 x H x W) of the warped history: ``strength`` where it matches the
    current frame within the leftover moiré's level (``RESIDUAL_SCALE``), falling fast where it
    does not, and in fine texture (``DETAIL_SCALE``), where the camera's own sampling changes
    from frame to frame. Given the network's ``inputs`` (the frames it was handed), both
    scales widen where the network left strong moiré (:func:`moire_share`), so that its
    crawling stripes average out too. ``current`` is ``luma(frame)`` where the caller has it
    already.

    The energies are squared per pixel at full resolution (so a fine ripple counts in full)
    and then averaged over 2 x 2 blocks and a 3 x 3 window of those: the weight map is
    smooth anyway, and at half resolution it costs a quarter, the scales included.
    """
    current = luma(frame) if current is None else current
    residual_energy = _pool2(luma(history).sub_(current).square_())
    detail_energy = _pool2(torch.sub(current, box_mean(current)).square_())
    share = None if inputs is None else moire_share(history, frame, inputs, residual_energy)
    energy = residual_energy.div_(_scale(share, RESIDUAL_SCALE, MOIRE_RESIDUAL_SCALE))
    energy.add_(detail_energy.div_(_scale(share, DETAIL_SCALE, MOIRE_DETAIL_SCALE)))
    weight = box_mean(energy).neg_().exp_().mul_(strength)
    return F.interpolate(weight, scale_factor=2, mode="nearest")[..., :frame.shape[-2],
                                                                  :frame.shape[-1]]


def _band_count(height: int) -> int:
    """Into how many bands of equal height to split a frame so that each torch thread has
    one (at most 8, and 1 where no such split exists)."""
    threads = min(torch.get_num_threads(), 8)
    return max(k for k in range(1, threads + 1) if height % k == 0)


class TemporalSmoother:
    """Motion-adaptive recursive filter over a stream of frames (one stream per instance).

    ``strength`` in [0, 1) is the largest weight the history gets where the picture holds
    still; 0 turns smoothing off. ``cuts`` counts the scene cuts detected since the last reset.

    On a CPU this is one of the pipeline's stages sharing the cores with the network, so its
    cost per frame is kept down (it was 60-90 ms of CPU per 720p frame; see docs/temporal.md):
    the full-resolution work is the bicubic warp of the history, the 3 x 3 clamp, the weights
    and one blend (``torch.lerp``) written straight into the batch's output, and the large
    intermediates (the sampling grid, the clamp's bounds and scratch, the history) live in
    buffers kept per stream and reused frame after frame.
    """

    def __init__(self, strength: float = DEFAULT_STRENGTH) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError("temporal strength must be in [0, 1)")
        self.strength = strength
        self._buffers: dict[str, torch.Tensor] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the history: after a reconnect; cuts and size changes reset on their own."""
        self._history: torch.Tensor | None = None
        self._thumb: torch.Tensor | None = None
        self.cuts = 0

    def _buffer(self, name: str, like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """The stream's reusable tensor ``name``: contiguous, of ``shape``, with ``like``'s
        dtype and device; made anew only when one of those changes (a size change)."""
        buf = self._buffers.get(name)
        if (buf is None or tuple(buf.shape) != tuple(shape) or buf.dtype != like.dtype
                or buf.device != like.device):
            buf = self._buffers[name] = _empty(like, shape)
        return buf

    def __call__(self, frames: torch.Tensor, inputs: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """Smooth a batch (N x 3 x H x W, in stream order), continuing the stream's history.

        ``inputs``: the frames the network was handed for this batch (same shape, same
        device), where the caller has them. They tell where the network took moiré out, the
        one place where what changes from frame to frame in colour is leftover moiré rather
        than content (:func:`moire_share`); without them the smoother keeps its narrow scales
        everywhere."""
        if self.strength == 0.0:
            return frames
        if inputs is not None and inputs.shape != frames.shape:
            raise ValueError(f"inputs of shape {tuple(inputs.shape)} for frames of shape "
                             f"{tuple(frames.shape)}")
        with torch.inference_mode():
            # The network hands over channels-last frames; one copy into the plain layout
            # here is cheaper than what that layout costs the operations below (grid
            # sampling, and slices shifted along a row that then step over three channels).
            frames = frames.contiguous()
            # (the input too: read in its channels-last layout it cost 10 ms more per 720p
            # frame than this copy)
            inputs = None if inputs is None else inputs.contiguous()
            out = torch.empty_like(frames)
            for i in range(len(frames)):
                self._step(frames[i:i + 1], out[i:i + 1],
                           None if inputs is None else inputs[i:i + 1])
            if self._history is not None:
                # The history is the batch's last output; keep a copy of its own, so that the
                # stream holds one frame, not the batch, and whatever the caller does with
                # the batch cannot touch it.
                history = self._buffer("history", self._history, tuple(self._history.shape))
                self._history = history.copy_(self._history)
            # Handed back in the plain layout: a copy back into channels-last cost more than
            # it saves the conversion to uint8 host frames (tensor_to_frames), which reads
            # either layout in one pass.
            return out

    def _step(self, frame: torch.Tensor, out: torch.Tensor, inputs: torch.Tensor | None
              ) -> None:
        """Smooth one frame (1 x 3 x H x W; ``inputs``: the network's input for it, or None)
        into ``out``, which becomes the history."""
        if min(frame.shape[-2:]) < MIN_SIDE:
            self._history = self._thumb = None
            out.copy_(frame)
            return
        current = luma(frame)
        thumb = thumbnail(frame, current)
        history, previous = self._history, self._thumb
        if history is None or previous is None or history.shape != frame.shape:
            return self._restart(frame, thumb, out)
        theta = camera_motion(previous, thumb)
        if correlation(warp(previous[None, None], theta)[0, 0], thumb).item() < CUT_CORRELATION:
            self.cuts += 1
            return self._restart(frame, thumb, out)
        warped = self._warp_history(history, theta, frame)
        weight = history_weight(warped, frame, self.strength, current, inputs)
        torch.lerp(frame, warped, weight, out=out)
        self._history, self._thumb = out, thumb

    def _warp_history(self, history: torch.Tensor, theta: torch.Tensor, frame: torch.Tensor
                      ) -> torch.Tensor:
        """The history warped onto ``frame`` (bicubic) and clamped to its neighbourhood, in
        the stream's buffer.

        The bicubic resampling is the smoother's largest cost (22 ms of CPU per 720p frame),
        and torch's CPU kernel parallelises over the batch only: one frame keeps one core
        busy. So on a CPU the frame is sampled as a batch of horizontal bands, one per torch
        thread, each with its rows of the sampling grid and the whole history (an expanded
        view, no copy): every output pixel is computed exactly as in one call, on all cores.
        """
        _, c, h, w = frame.shape
        grid = affine_grid(theta, h, w, self._buffer("grid", theta, (1, h, w, 2)))
        bands = _band_count(h) if frame.device.type == "cpu" else 1
        sampled = F.grid_sample(history.expand(bands, c, h, w), grid.view(bands, h // bands, w, 2),
                                mode="bicubic", padding_mode="border", align_corners=False)
        return _clamp_into(sampled, frame, self._buffer("warped", frame, (1, c, h, w)),
                           self._buffer, bands)

    def _restart(self, frame: torch.Tensor, thumb: torch.Tensor, out: torch.Tensor) -> None:
        out.copy_(frame)
        self._history, self._thumb = out, thumb


def camera_motion(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Affine map (2 x 3, normalised coordinates) from the current thumbnail to the previous
    one: block phase correlation for a robust start, Gauss-Newton for the last fraction of a
    pixel."""
    h, w = current.shape
    centres, shifts, confidence = block_shifts(previous, current)
    return refine_affine(previous, current, fit_affine(centres, shifts, confidence, h, w))
