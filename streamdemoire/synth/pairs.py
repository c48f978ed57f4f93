"""Random (moiré, clean) training and evaluation pairs from the simulator."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .camera import CameraParams, content_size_for, render_pair
from .content import render_content

#: Content is rendered at most this large and enlarged (nearest: display pixels stay sharp)
#: when a view covers more display pixels, which keeps far, zoomed-out shots affordable.
MAX_CONTENT_SIDE = 1024


def content_for_view(kind: str, params: CameraParams, height: int, width: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Screen content big enough to fill the camera's view of it."""
    need_h, need_w = content_size_for(params, height, width)
    scale = min(1.0, MAX_CONTENT_SIDE / max(need_h, need_w))
    img = render_content(kind, rng, max(8, round(need_h * scale)), max(8, round(need_w * scale)))
    if scale < 1.0:
        img = np.asarray(Image.fromarray(img).resize((need_w, need_h), Image.NEAREST))
    return img


def sample_pair(rng: np.random.Generator, height: int, width: int, kind: str = "mixed",
                params: CameraParams | None = None) -> tuple[np.ndarray, np.ndarray, CameraParams]:
    """One simulated shot: uint8 (moiré, clean) of shape (height, width, 3) and its params."""
    params = params or CameraParams.sample(rng)
    content = content_for_view(kind, params, height, width, rng)
    moire, clean = render_pair(content, params, height, width, rng)
    return moire, clean, params


def pair_for_seed(seed: int, height: int, width: int, kind: str = "mixed"):
    """The pair a seed names: how benchmarks stay fixed while training draws fresh seeds."""
    return sample_pair(np.random.default_rng(seed), height, width, kind)
