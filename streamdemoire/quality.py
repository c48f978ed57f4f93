"""Image quality measures shared by training, evaluation and tests.

Arrays are float in [0, 1] (torch N x 3 x H x W or C x H x W, or numpy H x W x 3) or uint8
numpy H x W x 3, which is scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity


def _as_float(img) -> np.ndarray | torch.Tensor:
    if isinstance(img, np.ndarray) and img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    return img


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB for signals in [0, 1]."""
    a, b = _as_float(a), _as_float(b)
    if isinstance(a, torch.Tensor):
        mse = torch.mean((a.double() - b.double()) ** 2).item()
    else:
        mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two H x W x 3 images (mean over channels)."""
    return float(structural_similarity(_as_float(a), _as_float(b), channel_axis=-1,
                                       data_range=1.0))


def colour_fit(img: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``img`` after the least-squares 3x4 colour map (RGB plus offset) onto ``reference``.

    A photo of a screen differs from the original in tone and white balance as well as in
    moiré; fitting the map per image first leaves moiré, blur and artefacts as the error.
    """
    x, y = _as_float(img).reshape(-1, 3), _as_float(reference).reshape(-1, 3)
    design = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.clip(design @ coef, 0, 1).reshape(_as_float(img).shape)


def fitted_psnr(img: np.ndarray, reference: np.ndarray) -> float:
    """PSNR after :func:`colour_fit`: the score the real pairs are judged by."""
    return psnr(colour_fit(img, reference), _as_float(reference))


def luma_gradient(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an H x W x 3 image's luma, per pixel in [0, 1] units."""
    luma = _as_float(img) @ np.array([0.299, 0.587, 0.114])
    return np.hypot(ndimage.sobel(luma, axis=0), ndimage.sobel(luma, axis=1)) / 8.0


def text_mask(clean: np.ndarray, threshold: float = 0.1, grow: int = 2) -> np.ndarray:
    """Boolean H x W mask of the clean image's text-like edges.

    A pixel is an edge where the clean luma's Sobel gradient exceeds ``threshold`` (0.1 is a
    luma step of 0.2 between neighbours: glyph strokes, table rules, UI borders). The
    mask then grows by ``grow`` pixels so a blurred output, whose edge energy spreads sideways,
    is still measured in full rather than partly outside the mask.
    """
    edges = luma_gradient(clean) > threshold
    return ndimage.binary_dilation(edges, iterations=grow) if grow else edges


def text_sharpness(img: np.ndarray, clean: np.ndarray) -> float:
    """Gradient energy of ``img`` inside the clean image's text mask, relative to ``clean``'s.

    1.0 means text is exactly as crisp as the original; a blur lowers it, leftover moiré or
    ringing raises it. NaN when the clean image has no text-like edges at all.
    """
    mask = text_mask(clean)
    if not mask.any():
        return float("nan")
    energy = float(np.mean(luma_gradient(img)[mask] ** 2))
    return energy / float(np.mean(luma_gradient(clean)[mask] ** 2))
