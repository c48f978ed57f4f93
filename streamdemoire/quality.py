"""Image quality measures shared by training, evaluation and tests.

Arrays are float in [0, 1] (torch N x 3 x H x W or C x H x W, or numpy H x W x 3) or uint8
numpy H x W x 3, which is scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity


def as_float(img) -> np.ndarray | torch.Tensor:
    """uint8 images to float64 in [0, 1]; anything else as it is."""
    if isinstance(img, np.ndarray) and img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    return img


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB for signals in [0, 1]."""
    a, b = as_float(a), as_float(b)
    if isinstance(a, torch.Tensor):
        mse = torch.mean((a.double() - b.double()) ** 2).item()
    else:
        mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two H x W x 3 images (mean over channels)."""
    return float(structural_similarity(as_float(a), as_float(b), channel_axis=-1,
                                       data_range=1.0))


def colour_fit(img: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``img`` after the least-squares 3x4 colour map (RGB plus offset) onto ``reference``.

    A photo of a screen differs from the original in tone and white balance as well as in
    moiré; fitting the map per image first leaves moiré, blur and artefacts as the error.
    """
    x, y = as_float(img).reshape(-1, 3), as_float(reference).reshape(-1, 3)
    design = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.clip(design @ coef, 0, 1).reshape(as_float(img).shape)


def fitted_psnr(img: np.ndarray, reference: np.ndarray) -> float:
    """PSNR after :func:`colour_fit`: the score the real pairs are judged by."""
    return psnr(colour_fit(img, reference), as_float(reference))


def luma_gradient(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an H x W x 3 image's luma, per pixel in [0, 1] units."""
    luma = as_float(img) @ np.array([0.299, 0.587, 0.114])
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


# --- video: flicker and warping error --------------------------------------------------------


def _luma_frames(frames) -> torch.Tensor:
    """A clip as N x 1 x H x W float64 luma: from torch N x 3 x H x W in [0, 1], or from a
    sequence of H x W x 3 frames (uint8 or float) as the other measures take them."""
    if isinstance(frames, torch.Tensor):
        rgb = frames.double()
    else:
        rgb = torch.stack([torch.as_tensor(np.asarray(as_float(f), np.float64))
                           .permute(2, 0, 1) for f in frames])
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def _pairs(n: int, scenes) -> list[int]:
    """Indices t of the consecutive pairs (t - 1, t) that lie within one scene."""
    return [t for t in range(1, n) if scenes is None or scenes[t] == scenes[t - 1]]


def truth_motion(truth, scenes=None) -> dict[int, torch.Tensor]:
    """The camera's motion from frame t - 1 to frame t of the clean truth, per pair within a
    scene: the temporal smoother's own affine estimate, made on the truth so that an output's
    leftover moiré cannot mislead it. The measures below estimate it themselves; a caller that
    scores several outputs against one truth passes it to them (``motion=``) once."""
    from .temporal import camera_motion, thumbnail

    y = _luma_frames(truth)

    def thumb(t: int) -> torch.Tensor:
        return thumbnail(y[t].expand(3, -1, -1)[None].float())

    return {t: camera_motion(thumb(t - 1), thumb(t)) for t in _pairs(len(y), scenes)}


def _moved(frames: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``frames`` (K x 1 x H x W) warped by ``theta``, and where the warp stayed inside them."""
    from .temporal import warp

    moved = warp(torch.cat([frames, torch.ones_like(frames[:1])]).float(), theta,
                 padding="zeros")
    return moved[:-1].to(frames.dtype), moved[-1:] > 0.999


def temporal_difference(frames, scenes=None, motion: dict[int, torch.Tensor] | None = None
                        ) -> float:
    """Mean absolute luma difference between consecutive frames of one scene ([0, 1] units).

    With ``motion`` (per pair, from :func:`truth_motion`) the previous frame is first warped
    onto the current one, and only the pixels the warp covers count.
    """
    y = _luma_frames(frames)
    pairs = _pairs(len(y), scenes)
    diffs = []
    for t in pairs:
        if motion is None:
            diffs.append((y[t] - y[t - 1]).abs().mean())
        else:
            moved, inside = _moved(y[t - 1:t], motion[t])
            diffs.append((moved[0] - y[t]).abs()[inside[0]].mean())
    return float(torch.stack(diffs).mean()) if diffs else float("nan")


def flicker(outputs, truth, scenes=None, stabilise: bool = False,
            motion: dict[int, torch.Tensor] | None = None) -> float:
    """Flicker excess: the output's mean absolute temporal luma difference minus the clean
    truth's ([0, 1] units; 0 is as steady as the truth).

    The truth's own difference (camera motion, scrolling) is subtracted, so what is left is
    what the processing adds: leftover moiré and noise that change from frame to frame.
    Pairs across a scene cut (``scenes``: a scene id per frame) are skipped, as a cut is
    meant to change everything.

    On a moving camera the plain difference also counts sharpness: a blurrier output than the
    truth changes less at moving edges and reads as steadier, even below zero. ``stabilise``
    first warps each previous frame onto the current one by the camera's motion (estimated on
    the truth; ``motion``: :func:`truth_motion`'s, where the caller has it), so that only what
    changes on the screen itself counts.
    """
    if not stabilise:
        motion = None
    elif motion is None:
        motion = truth_motion(truth, scenes)
    return (temporal_difference(outputs, scenes, motion)
            - temporal_difference(truth, scenes, motion))


#: Truth residual (luma, [0, 1] units) above which a pixel is left out of the warping error:
#: the truth itself does not follow the camera there (scrolling, occlusion, a motion the
#: affine map does not model), so the output should not either.
WARP_MASK_RESIDUAL = 0.03


def warping_error(outputs, truth, scenes=None,
                  motion: dict[int, torch.Tensor] | None = None) -> float:
    """Mean absolute luma difference between each output frame and the previous output warped
    onto it by the camera's motion, where that motion explains the clean truth.

    The motion is estimated on the truth (:func:`truth_motion`, or ``motion``); pixels where the
    warped truth misses the truth by more than ``WARP_MASK_RESIDUAL``, or that the warp brings
    in from outside the frame, are masked out. Lower is steadier; the truth itself scores at most
    that tolerance.
    """
    y_out, y_true = _luma_frames(outputs), _luma_frames(truth)
    pairs = _pairs(len(y_out), scenes)
    motion = truth_motion(truth, scenes) if motion is None else motion
    errors = []
    for t in pairs:
        moved, inside = _moved(torch.stack([y_true[t - 1], y_out[t - 1]]), motion[t])
        mask = inside[0] & ((moved[0] - y_true[t]).abs() < WARP_MASK_RESIDUAL)
        if mask.any():
            errors.append((moved[1] - y_out[t]).abs()[mask].mean())
    return float(torch.stack(errors).mean()) if errors else float("nan")


def moving_mask(truth, scenes=None, motion: dict[int, torch.Tensor] | None = None
                ) -> torch.Tensor:
    """N x 1 x H x W, True where the clean truth does not follow the camera: content that
    moves on its own (a scroll, a cursor, a video on the screen) or changes, by more than
    ``WARP_MASK_RESIDUAL`` after the camera's motion is taken out. This is where a temporal
    filter would leave ghost trails. The first frame of each scene has no such pixels.
    ``motion``: :func:`truth_motion`'s, where the caller has it.
    """
    y = _luma_frames(truth)
    pairs = _pairs(len(y), scenes)
    motion = truth_motion(truth, scenes) if motion is None else motion
    mask = torch.zeros(y.shape, dtype=torch.bool)
    for t in pairs:
        moved, inside = _moved(y[t - 1:t], motion[t])
        mask[t] = inside[0] & ((moved[0] - y[t]).abs() >= WARP_MASK_RESIDUAL)
    return mask
