"""Still photos of screens: read with the camera's orientation applied, write atomically.

Many users have a photo, not a video, so ``clean`` takes images too. Pillow does the work:
it reads what phones write (JPEG, PNG, WebP, HEIF only with a plugin) and applies the EXIF
orientation tag, which phones use instead of rotating the pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UserError
from ..files import write_whole

#: Suffixes ``clean`` treats as still images, and the Pillow format each one writes.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
                 ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
#: Lossy formats are written at a quality that does not put new block artefacts back.
_SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}}


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_FORMATS


def read_image(path: Path) -> np.ndarray:
    """The photo as uint8 RGB, H x W x 3, upright as its EXIF orientation says."""
    if not path.exists():
        raise UserError(f"input not found: {path}")
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from None


def write_image(rgb: np.ndarray, path: Path) -> None:
    """Write ``rgb`` in the format ``path``'s suffix names; all or nothing.

    Encoded in memory (a photo is small) and written by :func:`write_whole`, so a failure
    (full disk, Ctrl-C) never leaves a half-written picture.
    """
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: an image input needs an image output "
                        f"({', '.join(sorted(IMAGE_FORMATS))})")
    encoded = io.BytesIO()
    Image.fromarray(rgb).save(encoded, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
    write_whole(path, encoded.getbuffer())
