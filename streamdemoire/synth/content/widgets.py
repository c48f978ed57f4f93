"""Widgets the screens share: icons, buttons, arrows."""

import math

import numpy as np
from PIL import ImageDraw

from .canvas import RGB, Box
from .colour import _on
from .sampling import _ri
from .text import _draw_centred, _Font


def _draw_icon(draw: ImageDraw.ImageDraw, rng: np.random.Generator, x: int, y: int, size: int,
               colour: RGB) -> None:
    """A small toolbar-style glyph: square, circle, magnifier, hamburger, star, folder..."""
    s, kind = max(size, 3), int(rng.integers(7))
    box = (x, y, x + s - 1, y + s - 1)
    if kind == 0:
        draw.rounded_rectangle(box, radius=s // 4, outline=colour, width=max(1, s // 8))
    elif kind == 1:
        draw.ellipse(box, fill=colour)
    elif kind == 2:  # magnifier
        draw.ellipse((x, y, x + s * 0.65, y + s * 0.65), outline=colour, width=max(1, s // 8))
        draw.line((x + s * 0.6, y + s * 0.6, x + s, y + s), fill=colour, width=max(1, s // 7))
    elif kind == 3:  # hamburger
        for i in range(3):
            yy = y + round(s * (0.2 + 0.3 * i))
            draw.line((x, yy, x + s, yy), fill=colour, width=max(1, s // 9))
    elif kind == 4:
        draw.regular_polygon((x + s / 2, y + s / 2, s / 2), _ri(rng, 3, 8), fill=colour)
    elif kind == 5:  # folder
        draw.rectangle((x, y + s * 0.25, x + s, y + s * 0.9), fill=colour)
        draw.rectangle((x, y + s * 0.1, x + s * 0.45, y + s * 0.3), fill=colour)
    else:  # document
        draw.rectangle(box, outline=colour, width=max(1, s // 10))
        for i in range(1, 4):
            yy = y + round(s * i / 4.5)
            draw.line((x + s * 0.2, yy, x + s * 0.8, yy), fill=colour)


def _draw_button(draw: ImageDraw.ImageDraw, box: Box, label: str, font: _Font, fill: RGB,
                 outline_only: bool, roundness: float = 0.25) -> None:
    """A button, filled or outlined, with a centred label; ``roundness`` is the corner radius
    as a fraction of its height (0: square, 0.5: pill)."""
    radius = round((box[3] - box[1]) * roundness)
    if outline_only:
        draw.rounded_rectangle(box, radius=radius, outline=fill, width=1)
        _draw_centred(draw, box, label, font, fill)
    else:
        draw.rounded_rectangle(box, radius=radius, fill=fill)
        _draw_centred(draw, box, label, font, _on(fill))


def _draw_arrow(draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float],
                colour: RGB, width: int) -> None:
    """A straight arrow with a triangular head (diagrams, charts)."""
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    if length < 1:
        return
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = min(length / 2, 4 + 3 * width)
    bx, by = x1 - ux * head, y1 - uy * head
    draw.line((x0, y0, bx, by), fill=colour, width=width)
    draw.polygon([(x1, y1), (bx - uy * head / 2, by + ux * head / 2),
                  (bx + uy * head / 2, by - ux * head / 2)], fill=colour)
