"""Colours and themes."""

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .canvas import RGB
from .sampling import _chance, _pick, _ri, _ru


def _hsv(h: float, s: float, v: float) -> RGB:
    """An RGB colour from hue (wraps around), saturation and value in [0, 1]."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _grey(v: int) -> RGB:
    """A neutral grey."""
    return v, v, v


def _shift(c: RGB, d: int) -> RGB:
    """Lighten (d > 0) or darken a colour, clipped to the valid range."""
    r, g, b = (min(255, max(0, v + d)) for v in c)
    return r, g, b


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend from ``a`` (t=0) to ``b`` (t=1)."""
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return r, g, bl


def _on(bg: RGB) -> RGB:
    """Readable text colour on a background: near-black on light, near-white on dark."""
    return (20, 20, 24) if 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] > 150 else (248, 248, 250)


def _accent(rng: np.random.Generator, dark: bool) -> RGB:
    """A saturated brand/link colour, brighter on dark themes."""
    value = _ru(rng, 0.7, 0.95) if dark else _ru(rng, 0.45, 0.8)
    return _hsv(rng.random(), _ru(rng, 0.5, 0.9), value)


_PALETTES: tuple[tuple[RGB, ...], ...] = (
    ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
     (140, 86, 75), (227, 119, 194), (127, 127, 127)),  # matplotlib / tableau
    ((68, 114, 196), (237, 125, 49), (165, 165, 165), (255, 192, 0), (91, 155, 213),
     (112, 173, 71)),  # office
    ((66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188),
     (0, 172, 193)),  # google
)


def _palette(rng: np.random.Generator, n: int) -> list[RGB]:
    """``n`` series colours: a well-known chart palette or evenly spaced random hues."""
    if _chance(rng, 0.6):
        base = _pick(rng, _PALETTES)
        return [base[i % len(base)] for i in range(n)]
    hue, sat, val = rng.random(), _ru(rng, 0.45, 0.85), _ru(rng, 0.55, 0.9)
    return [_hsv(hue + i / max(n, 1), sat, val) for i in range(n)]


@dataclass(frozen=True)
class _Theme:
    """An app colour scheme: background, raised surfaces, text, muted text, lines and accent."""

    bg: RGB
    surface: RGB
    text: RGB
    muted: RGB
    line: RGB
    accent: RGB
    dark: bool


def _theme(rng: np.random.Generator, dark: bool) -> _Theme:
    """A random light or dark scheme, tinted slightly like real products are."""
    hue, tint = rng.random(), _ru(rng, 0.0, 0.12)
    if dark:
        bg = _hsv(hue, tint, _ri(rng, 12, 45) / 255)
        return _Theme(bg, _shift(bg, _ri(rng, 8, 22)), _grey(_ri(rng, 200, 245)),
                      _grey(_ri(rng, 120, 165)), _shift(bg, _ri(rng, 25, 50)),
                      _accent(rng, True), True)
    bg = (255, 255, 255) if _chance(rng, 0.5) else _hsv(hue, tint * 0.4, _ru(rng, 0.95, 1.0))
    return _Theme(bg, _shift(bg, -_ri(rng, 6, 20)), _grey(_ri(rng, 0, 50)),
                  _grey(_ri(rng, 95, 140)), _grey(_ri(rng, 195, 225)), _accent(rng, False), False)


def _gradient(rng: np.random.Generator, h: int, w: int, c0: RGB, c1: RGB,
              radial: bool = False) -> Image.Image:
    """A two-colour gradient: linear at a random angle, or radial from a random centre (on
    or off the canvas), as wallpapers and slide templates draw them. Computed small and
    enlarged: it is smooth anyway."""
    sh, sw = max(2, h // 8), max(2, w // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    yy, xx = yy / sh * h, xx / sw * w
    if radial:
        cy, cx = _ru(rng, -0.3, 1.3) * h, _ru(rng, -0.3, 1.3) * w
        t = np.hypot(yy - cy, xx - cx)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    arr = np.asarray(c0, np.float32) + (np.asarray(c1, np.float32) - c0) * t[..., None]
    return Image.fromarray(arr.round().astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)


def _backdrop(rng: np.random.Generator, h: int, w: int, c0: RGB, c1: RGB) -> Image.Image:
    """A smooth gradient backdrop, linear or radial. Screens show many (wallpapers, slide
    templates, landing pages), and a network that rarely sees one takes any smooth gradient
    for the camera's vignetting and flattens it: before these were common in training, the
    model flattened a desktop wallpaper from 34 dB to 26 dB."""
    return _gradient(rng, h, w, c0, c1, radial=_chance(rng, 0.4))
