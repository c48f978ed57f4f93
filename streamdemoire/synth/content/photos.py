"""Photos, the ``"photo"`` kind and the pictures in slides, pages and desktops:
scikit-image's bundled images with heavy augmentation, plus procedural natural-like images
so a model does not overfit a couple of dozen photos."""

import functools
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .canvas import Box
from .colour import _gradient, _hsv, _shift
from .sampling import _chance, _pick, _ri, _ru

_COLOUR_PHOTOS = (
    "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "ihc.png", "hubble_deep_field.jpg",
    "retina.jpg", "color.png", "logo.png", "motorcycle_left.png",
)
_GREY_PHOTOS = (
    "camera.png", "coins.png", "moon.png", "horse.png", "brick.png", "grass.png", "gravel.png",
    "cell.png", "clock_motion.png", "page.png", "text.png", "phantom.png",
)
_TEXTURE_FILES = ("grass.png", "gravel.png", "brick.png", "moon.png")
_PROCEDURAL_PHOTO_SHARE = 0.35
_GREY_PHOTO_SHARE = 0.3  # screens mostly show colour photos


@functools.cache
def _skimage_image(name: str) -> np.ndarray | None:
    """A photo shipped inside the scikit-image package, read from its folder (never downloaded:
    its fetcher could reach the network); grey images stay 2-D. None if unavailable."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    try:
        with Image.open(path) as im:
            if im.mode in ("RGBA", "LA", "P"):  # logos and silhouettes: flatten onto white
                im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
            return np.asarray(im.convert("L" if im.mode == "L" else "RGB"))
    except OSError:
        return None


def _colour_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random hue, saturation, white balance, exposure and gamma in one 3x3 matrix and a LUT:
    a couple of dozen photos become thousands of looks."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    hue = rng.normal(0.0, 0.5) if _chance(rng, 0.6) else 0.0
    sat = 0.0 if _chance(rng, 0.05) else math.exp(rng.uniform(math.log(0.4), math.log(1.7)))
    cos, sin = sat * math.cos(hue), sat * math.sin(hue)
    chroma = np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    balance = np.exp(rng.normal(0.0, 0.08, 3)) * math.exp(rng.normal(0.0, 0.15))
    matrix = (np.diag(balance) @ np.linalg.inv(to_yiq) @ chroma @ to_yiq).astype(np.float32)
    out = np.clip(rgb.reshape(-1, 3).astype(np.float32) @ matrix.T, 0, 255).astype(np.uint8)
    gamma = math.exp(rng.uniform(math.log(0.7), math.log(1.4)))
    lut = np.round(255 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return lut[out].reshape(rgb.shape)


def _colourise(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grey photo as RGB: kept grey, or toned between two colours (duotone, sepia)."""
    if _chance(rng, 0.5):
        return np.repeat(grey[..., None], 3, axis=2)
    dark = np.asarray(_hsv(rng.random(), _ru(rng, 0.2, 0.9), _ru(rng, 0.0, 0.3)), np.float32)
    light = np.asarray(_hsv(rng.random(), _ru(rng, 0.0, 0.5), _ru(rng, 0.8, 1.0)), np.float32)
    lut = _to_uint8(dark + (light - dark) * (np.arange(256, dtype=np.float32) / 255)[:, None])
    return lut[grey]


def _crop_box(rng: np.random.Generator, shape: tuple[int, ...], h: int, w: int) -> Box:
    """A random source box that, resized to h x w, scales the source 0.5x-3x (more when the
    source is too small to fill h x w)."""
    scale = math.exp(rng.uniform(math.log(0.5), math.log(3.0)))
    scale = max(scale, h / shape[0], w / shape[1])
    ch = min(shape[0], max(1, math.ceil(h / scale)))
    cw = min(shape[1], max(1, math.ceil(w / scale)))
    y0, x0 = _ri(rng, 0, shape[0] - ch), _ri(rng, 0, shape[1] - cw)
    return x0, y0, x0 + cw, y0 + ch


def _photo_crop(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random crop of a bundled photo: scaled 0.5x-3x, flipped, turned by 90s, colour-jittered.
    Images load one by one on first use, so a worker pays only for those it draws."""
    names = _GREY_PHOTOS if _chance(rng, _GREY_PHOTO_SHARE) else _COLOUR_PHOTOS
    src = _skimage_image(_pick(rng, names))
    if src is None:  # scikit-image missing or trimmed
        return _procedural_photo(rng, h, w)
    turns = int(rng.integers(4))
    th, tw = (h, w) if turns % 2 == 0 else (w, h)
    box = _crop_box(rng, src.shape, th, tw)
    resample = _pick(rng, (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC,
                           Image.Resampling.LANCZOS))
    arr = np.asarray(Image.fromarray(src).resize((tw, th), resample, box=box))
    if arr.ndim == 2:
        arr = _colourise(arr, rng)
    if _chance(rng, 0.5):
        arr = arr[:, ::-1]
    if _chance(rng, 0.2):
        arr = arr[::-1]
    return _colour_jitter(np.ascontiguousarray(np.rot90(arr, turns)), rng)


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A natural-looking image: mostly real photos, about a third procedural."""
    if _chance(rng, _PROCEDURAL_PHOTO_SHARE):
        return _procedural_photo(rng, h, w)
    return _photo_crop(rng, h, w)


def _fractal_noise(rng: np.random.Generator, h: int, w: int, channels: int,
                   beta: float) -> np.ndarray:
    """Gaussian noise with a 1/f^beta power spectrum (natural images sit near beta = 2),
    as float32 (h, w, channels) with zero mean and unit spread per channel."""
    fy = np.fft.fftfreq(h).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(w).astype(np.float32)[None, :]
    freq = np.hypot(fy, fx)
    freq[0, 0] = 1.0
    amp = freq ** np.float32(-beta / 2)
    amp[0, 0] = 0.0
    shape = (channels, *amp.shape)
    spectrum = (rng.standard_normal(shape, np.float32)
                + 1j * rng.standard_normal(shape, np.float32)).astype(np.complex64) * amp
    field = np.fft.irfft2(spectrum, s=(h, w)).astype(np.float32)
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return np.moveaxis(field, 0, -1)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Clip a float image to [0, 255] and round it to uint8."""
    return np.clip(arr, 0, 255).round().astype(np.uint8)


def _noise_landscape(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A 1/f colour field with correlated channels, sometimes with sharp region edges."""
    field = _fractal_noise(rng, h, w, 3, _ru(rng, 1.9, 3.0))
    if _chance(rng, 0.4):  # sharpen into regions, like foliage against sky
        field[..., 0] = np.tanh(field[..., 0] * _ru(rng, 2.0, 8.0))
    mixing = rng.normal(0.0, 0.2, (3, 3)) + np.outer([1.0, 0.0, 0.0], rng.uniform(0.6, 1.2, 3))
    mean = np.asarray(_hsv(rng.random(), _ru(rng, 0.1, 0.6), _ru(rng, 0.3, 0.8)), np.float32)
    return _to_uint8(mean + (field @ mixing.astype(np.float32)) * _ru(rng, 25.0, 70.0))


def _soft_shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Overlapping shapes with gradients and soft or sharp edges over a gradient backdrop:
    object-like blobs with occlusion, the structure of a defocused scene."""
    img = _gradient(rng, h, w, _hsv(rng.random(), _ru(rng, 0.1, 0.6), _ru(rng, 0.2, 0.9)),
                    _hsv(rng.random(), _ru(rng, 0.1, 0.6), _ru(rng, 0.2, 0.9)))
    side = min(h, w)
    for _ in range(_ri(rng, 5, 18)):
        sh = max(2, round(side * math.exp(rng.uniform(math.log(0.05), math.log(0.7)))))
        sw = max(2, round(sh * math.exp(rng.normal(0.0, 0.4))))
        blur = 0.0 if _chance(rng, 0.3) else _ru(rng, 0.5, 0.12 * sh)
        mask = _soft_mask(rng, sw, sh, blur)
        base = _hsv(rng.random(), _ru(rng, 0.1, 0.8), _ru(rng, 0.15, 0.95))
        fill = _gradient(rng, mask.height, mask.width, base, _shift(base, _ri(rng, -90, 90)))
        img.paste(fill, (_ri(rng, -sw // 2, w - sw // 2), _ri(rng, -sh // 2, h - sh // 2)), mask)
    grain = _fractal_noise(rng, h, w, 1, _ru(rng, 0.5, 1.5)) * _ru(rng, 2.0, 12.0)
    return _to_uint8(np.asarray(img, np.float32) + grain)


def _soft_mask(rng: np.random.Generator, w: int, h: int, blur: float) -> Image.Image:
    """A random white blob on black, about w x h plus room for its edge blurred by ``blur`` px.
    Wide blurs are done small and enlarged: the same look at a fraction of the cost."""
    factor = max(1, int(blur // 2))
    margin = math.ceil(3 * blur / factor) + 1
    sw, sh = max(2, w // factor), max(2, h // factor)
    mask = Image.new("L", (sw + 2 * margin, sh + 2 * margin), 0)
    _draw_blob(ImageDraw.Draw(mask), rng, (margin, margin, margin + sw - 1, margin + sh - 1))
    if blur:
        mask = mask.filter(ImageFilter.GaussianBlur(blur / factor))
    if factor > 1:
        mask = mask.resize((mask.width * factor, mask.height * factor), Image.Resampling.BILINEAR)
    return mask


def _draw_blob(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box) -> None:
    """Fill an ellipse, rounded rectangle or irregular polygon inside a box with white."""
    x0, y0, x1, y1 = box
    kind = int(rng.integers(3))
    if kind == 0:
        draw.ellipse(box, fill=255)
    elif kind == 1:
        draw.rounded_rectangle(box, radius=_ri(rng, 0, min(x1 - x0, y1 - y0) // 2), fill=255)
    else:
        n = _ri(rng, 3, 9)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.5, 1.0, n)
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        points = [(cx + rx * r * math.cos(a), cy + ry * r * math.sin(a))
                  for a, r in zip(angles, radii, strict=True)]
        draw.polygon(points, fill=255)


def _split(rng: np.random.Generator, box: Box, depth: int, min_side: int) -> list[Box]:
    """Cut a box recursively into rectangles (a treemap), stopping at ``min_side``."""
    x0, y0, x1, y1 = box
    vertical = (x1 - x0) > (y1 - y0)
    length = (x1 - x0) if vertical else (y1 - y0)
    if depth == 0 or length < 2 * min_side or _chance(rng, 0.15):
        return [box]
    cut = _ri(rng, min_side, length - min_side)
    first = (x0, y0, x0 + cut, y1) if vertical else (x0, y0, x1, y0 + cut)
    second = (x0 + cut, y0, x1, y1) if vertical else (x0, y0 + cut, x1, y1)
    return _split(rng, first, depth - 1, min_side) + _split(rng, second, depth - 1, min_side)


def _photo_mosaic(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Patches of different photos side by side, blurred: new layouts from a small library."""
    canvas = np.empty((h, w, 3), np.uint8)
    for x0, y0, x1, y1 in _split(rng, (0, 0, w, h), _ri(rng, 2, 4), max(8, min(h, w) // 6)):
        canvas[y0:y1, x0:x1] = _photo_crop(rng, y1 - y0, x1 - x0)
    blur = ImageFilter.GaussianBlur(_ru(rng, 0.7, 5.0))
    return np.asarray(Image.fromarray(canvas).filter(blur))


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A zero-mean grey texture in roughly [-1, 1]: a bundled texture photo, rough noise or
    warped stripes (wood, fabric)."""
    kind = int(rng.integers(3))
    sample = _skimage_image(_pick(rng, _TEXTURE_FILES)) if kind == 0 else None
    if sample is not None:
        box = _crop_box(rng, sample.shape, h, w)
        grey = np.asarray(Image.fromarray(sample).resize((w, h), box=box), np.float32)
        return (grey - grey.mean()) / (grey.std() + 1e-6) * 0.5
    if kind == 1:
        return _fractal_noise(rng, h, w, 1, _ru(rng, 1.5, 2.4))[..., 0] * 0.4
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), _ru(rng, 3.0, 40.0)
    warp = _fractal_noise(rng, h, w, 1, 2.5)[..., 0] * _ru(rng, 0.0, 6.0)
    return np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period + warp) * 0.5


def _textured_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth colour field modulated by a texture: walls, fabric, wood, sand, bark."""
    hue, sat, rows, cols = rng.random(), _ru(rng, 0.05, 0.6), _ri(rng, 2, 6), _ri(rng, 2, 6)
    grid = np.array([_hsv(hue + rng.normal(0, 0.06), sat * _ru(rng, 0.6, 1.2), _ru(rng, 0.2, 0.9))
                     for _ in range(rows * cols)], np.uint8).reshape(rows, cols, 3)
    colour = np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC),
                        np.float32)
    return _to_uint8(colour * (1.0 + _ru(rng, 0.15, 0.8) * _texture(rng, h, w)[..., None]))


_PROCEDURAL: tuple[Callable[[np.random.Generator, int, int], np.ndarray], ...] = (
    _noise_landscape, _soft_shapes, _photo_mosaic, _textured_field,
)


def _procedural_photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """One of the procedural natural-like image generators."""
    return _pick(rng, _PROCEDURAL)(rng, h, w)


def _paste_photo(img: Image.Image, rng: np.random.Generator, box: Box) -> None:
    """Fill a box of a drawing with a photo (illustrations in slides, pages, desktops)."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= 2 and y1 - y0 >= 2:
        img.paste(Image.fromarray(_photo(rng, y1 - y0, x1 - x0)), (x0, y0))


def _render_photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A full-screen natural image (real or procedural)."""
    return Image.fromarray(_photo(rng, h, w))
