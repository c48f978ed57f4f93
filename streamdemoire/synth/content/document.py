"""The ``"text"`` kind: plain text documents."""

import numpy as np
from PIL import Image, ImageDraw

from .canvas import RGB, Box, _Draw
from .sampling import _chance, _log_int, _pick, _ri, _ru
from .text import (
    _FAMILIES,
    _draw_paragraph,
    _draw_text,
    _Font,
    _line_height,
    _Paragraph,
    _prose,
    _title,
)

_TEXT_SCHEMES: tuple[tuple[RGB, RGB], ...] = (
    ((255, 255, 255), (0, 0, 0)),
    ((255, 255, 255), (0, 0, 0)),
    ((0, 0, 0), (255, 255, 255)),
    ((250, 248, 240), (40, 40, 40)),
    ((244, 236, 216), (70, 50, 30)),
    ((30, 30, 30), (220, 220, 220)),
    ((255, 255, 255), (20, 40, 120)),
    ((0, 43, 54), (200, 210, 210)),
)


def _render_text(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A plain document: paragraphs, headings and lists in one of serif, sans, mono or condensed
    at 7-40 px, black on white, inverted or tinted, left-aligned or justified."""
    bg, fg = _pick(rng, _TEXT_SCHEMES)
    img = Image.new("RGB", (w, h), bg)
    draw = _Draw(img)
    font = _Font(_pick(rng, _FAMILIES), _log_int(rng, 7, 40), aliased=_chance(rng, 0.3))
    margin = round(w * _ru(rng, 0.0, 0.12)) + _ri(rng, 2, 12)
    leading = _ru(rng, 1.1, 1.8)
    justify = _chance(rng, 0.4)
    indent = _chance(rng, 0.3)
    y = _ri(rng, -_line_height(font), font.size * 2)
    while y < h:
        roll = rng.random()
        if roll < 0.12:
            heading = font.sized(font.size * _ru(rng, 1.2, 1.8)).styled("bold")
            y = _draw_paragraph(draw, rng, (margin, y, w - margin, h + _line_height(heading)),
                                _title(rng, 2, 7).split(), _Paragraph(heading, fg, 1.2))
        elif roll < 0.2:
            y = _text_list(draw, rng, (margin, y, w - margin, h), font, fg, leading)
        else:
            style = _Paragraph(font, fg, leading, justify, indent=font.size * 2 if indent else 0)
            y = _draw_paragraph(draw, rng, (margin, y, w - margin, h + _line_height(font)),
                                _prose(rng, _ri(rng, 10, 120)), style)
        gap = _ru(rng, 0.0, 0.4) if indent else _ru(rng, 0.5, 1.0)  # indented text packs tighter
        y += round(_line_height(font) * gap)
    return img


def _text_list(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, font: _Font,
               fg: RGB, leading: float) -> int:
    """A numbered or bulleted list; returns the next y."""
    x0, y, x1, y1 = box
    numbered = _chance(rng, 0.5)
    for i in range(_ri(rng, 2, 6)):
        if y >= y1:
            break
        mark = f"{i + 1}." if numbered else "•"
        _draw_text(draw, x0 + font.size, y, mark, font, fg)
        y = _draw_paragraph(draw, rng, (x0 + font.size * 3, y, x1, y1 + _line_height(font)),
                            _prose(rng, _ri(rng, 4, 30)), _Paragraph(font, fg, leading))
    return y
