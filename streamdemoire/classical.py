"""Classical demoiré baselines: what a learned model has to beat to be worth shipping.

Every filter takes a uint8 H x W x 3 RGB image plus its own parameters and returns a uint8
image of the same shape. ``tools/evaluate.py`` runs each one over the small parameter grid in
:data:`PARAM_GRIDS` and keeps its best setting on the benchmark at hand, so the classical
figures are an optimistic upper bound for these filters, not a fair held-out score.

- :func:`gaussian`: plain low-pass; removes fine moiré along with fine detail.
- :func:`median`: removes thin bright/dark streaks, keeps step edges better than a blur.
- :func:`guided`: the guided filter of He et al. (edge-preserving smoothing), guided by luma.
- :func:`notch`: removes isolated peaks from the Fourier spectrum, which is what a strictly
  periodic moiré is; it leaves the rest of the image alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft, ndimage

#: Rec. 601 luma weights: the guided filter's guide image.
LUMA = np.array([0.299, 0.587, 0.114])


def _to_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def gaussian(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each channel with standard deviation ``sigma`` pixels."""
    return _to_uint8(ndimage.gaussian_filter(_to_float(img), (sigma, sigma, 0), mode="reflect"))


def median(img: np.ndarray, size: int) -> np.ndarray:
    """Median of each channel over a ``size`` x ``size`` window."""
    return ndimage.median_filter(img, size=(size, size, 1), mode="reflect")


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2 radius + 1) square window: the guided filter's only building block."""
    return ndimage.uniform_filter(x, size=2 * radius + 1, mode="reflect")


def guided(img: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Guided filter (He, Sun and Tang, 2013) of each channel, with the image's luma as guide.

    Inside every window the output is a linear function ``a * guide + b`` of the guide fitted
    to the channel: where the guide varies much more than ``eps`` (a variance, in [0, 1]
    units squared) the window keeps its edge, where it varies less it is flattened to its mean.
    Guiding every channel by the same luma also flattens colour fringes that luma lacks.
    """
    x = _to_float(img)
    guide = x @ LUMA.astype(np.float32)
    mean_g = _box(guide, radius)
    var_g = _box(guide * guide, radius) - mean_g * mean_g
    out = np.empty_like(x)
    for c in range(3):
        p = x[..., c]
        mean_p = _box(p, radius)
        a = (_box(guide * p, radius) - mean_g * mean_p) / (var_g + eps)
        b = mean_p - a * mean_g
        out[..., c] = _box(a, radius) * guide + _box(b, radius)
    return _to_uint8(out)


def periodic_smooth(channel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a channel into a periodic part and a smooth part (Moisan, 2011).

    The FFT treats an image as a tile of a periodic plane; the jumps where opposite borders
    meet put a bright cross on the spectrum's axes that would look like moiré peaks. The smooth
    part carries exactly those jumps and is added back untouched after filtering.
    """
    h, w = channel.shape
    jumps = np.zeros_like(channel)
    jumps[0, :] += channel[-1, :] - channel[0, :]
    jumps[-1, :] += channel[0, :] - channel[-1, :]
    jumps[:, 0] += channel[:, -1] - channel[:, 0]
    jumps[:, -1] += channel[:, 0] - channel[:, -1]
    cy = np.cos(2 * np.pi * fft.fftfreq(h))[:, None]
    cx = np.cos(2 * np.pi * fft.fftfreq(w))[None, :]
    denominator = (2 * cy + 2 * cx - 4).astype(channel.dtype)
    denominator[0, 0] = 1.0  # the smooth part has zero mean
    smooth_f = fft.fft2(jumps) / denominator
    smooth_f[0, 0] = 0.0
    smooth = np.real(fft.ifft2(smooth_f))
    return channel - smooth, smooth


def _bin_offsets(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed offsets of every FFT bin from DC, in bins: (rows as a column, columns as a row)."""
    return fft.fftfreq(h, 1 / h)[:, None], fft.fftfreq(w, 1 / w)[None, :]


def _line_footprints(length: int) -> list[np.ndarray]:
    """Lines of ``length`` bins at 0, 45, 90 and 135 degrees (row, column axes), as footprints."""
    row = np.zeros((length, length), bool)
    row[length // 2] = True
    diagonal = np.eye(length, dtype=bool)
    return [row, diagonal, row.T, diagonal[::-1]]


def spectral_background(log_magnitude: np.ndarray, size: int = 7) -> np.ndarray:
    """The level the spectrum would have at each bin without isolated peaks.

    Two medians, and the larger wins. The median of the ``size`` square around the bin ignores
    an isolated peak. But the spectrum of a straight edge (text strokes, table rules, a window
    border) is a ridge running through DC, which would stand out of a square median; so the
    median along the line from the bin towards DC (quantised to 45 degrees) is taken too: it
    follows such a ridge, which is therefore not mistaken for moiré.
    """
    h, w = log_magnitude.shape
    square = ndimage.median_filter(log_magnitude, size=size, mode="wrap")
    lines = [ndimage.median_filter(log_magnitude, footprint=f, mode="wrap")
             for f in _line_footprints(size)]
    dy, dx = _bin_offsets(h, w)
    direction = np.rint(np.arctan2(dy, dx) / (np.pi / 4)).astype(int) % 4
    return np.maximum(square, np.choose(direction, lines))


def notch_gain(log_magnitude: np.ndarray, threshold: float, width: float,
               dc_radius: float = 0.04) -> np.ndarray:
    """Multiplicative spectral gain in [0, 1] that flattens isolated peaks.

    A peak is a bin whose log-magnitude exceeds :func:`spectral_background` by more than
    ``threshold`` (natural log units, so 1.5 means 4.5 times brighter). Bins within
    ``dc_radius`` cycles/pixel of DC hold the image's large shapes and are never touched. Each
    peak is pulled down to its background level, and the attenuation is spread with a Gaussian
    of ``width`` bins so the notches are smooth (hard-edged notches ring in the image).
    """
    h, w = log_magnitude.shape
    dy, dx = _bin_offsets(h, w)
    excess = log_magnitude - spectral_background(log_magnitude)
    peaks = (excess > threshold) & (np.hypot(dy / h, dx / w) >= dc_radius)
    attenuation = np.where(peaks, 1.0 - np.exp(-excess), 0.0)
    spread = ndimage.gaussian_filter(attenuation, width, mode="wrap") * (2 * np.pi * width**2)
    return 1.0 - np.clip(spread, 0.0, 1.0)


def notch(img: np.ndarray, threshold: float, width: float = 1.5) -> np.ndarray:
    """FFT notch filter: remove periodic patterns (isolated spectral peaks) from the image.

    Peaks are found once on the summed magnitude spectra of the three channels, because the
    beat frequencies of a moiré are the same in every channel (only their phase differs, which
    is where its colour comes from); the same notches are then applied to every channel. See
    :func:`notch_gain` for ``threshold`` and ``width``.
    """
    x = _to_float(img)
    parts = [periodic_smooth(x[..., c]) for c in range(3)]
    spectra = [fft.fft2(periodic) for periodic, _ in parts]
    log_magnitude = np.log1p(sum(np.abs(s) for s in spectra))
    gain = notch_gain(log_magnitude, threshold, width).astype(np.float32)
    out = np.stack([np.real(fft.ifft2(s * gain)) + smooth
                    for s, (_, smooth) in zip(spectra, parts, strict=True)], axis=-1)
    return _to_uint8(out)


#: Name -> (filter, parameter grid): the settings evaluate.py tries for each filter.
Filter = Callable[..., np.ndarray]
PARAM_GRIDS: dict[str, tuple[Filter, list[dict]]] = {
    "gaussian": (gaussian, [{"sigma": s} for s in (0.8, 1.2, 1.8, 2.7, 4.0)]),
    "median": (median, [{"size": s} for s in (3, 5)]),
    "guided": (guided, [{"radius": r, "eps": e} for r in (2, 4, 8) for e in (1e-4, 1e-3, 1e-2)]),
    "notch": (notch, [{"threshold": t} for t in (1.0, 1.5, 2.5)]),
}
