"""Image quality measures shared by training, evaluation and tests.

Arrays are float in [0, 1] (torch N x 3 x H x W or C x H x W, or numpy H x W x 3) or uint8
numpy H x W x 3, which is scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
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
