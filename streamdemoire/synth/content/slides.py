"""The ``"slides"`` kind: presentation slides."""

import numpy as np
from PIL import Image, ImageDraw

from .canvas import Box, _Draw
from .chart import _chart_panel
from .colour import _backdrop, _mix, _on, _palette, _Theme, _theme
from .photos import _paste_photo
from .sampling import _chance, _pick, _ri, _ru
from .text import (
    _draw_centred,
    _draw_paragraph,
    _draw_text,
    _fit,
    _Font,
    _line_height,
    _Paragraph,
    _prose,
    _text_width,
    _title,
    _wrap,
)
from .widgets import _draw_arrow


def _render_slides(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A presentation slide filling the screen: title, bullets, diagrams, photos, logo, footer.
    Often drawn at 2x and reduced, for the anti-aliased shapes presentation apps draw."""
    ss = 2 if _chance(rng, 0.4) else 1
    width, height = w * ss, h * ss
    theme = _theme(rng, dark=_chance(rng, 0.3))
    img = _slide_background(rng, height, width, theme)
    draw = _Draw(img)
    unit = min(height, width * 9 / 16)
    family = _pick(rng, ("sans", "sans", "serif", "condensed"))
    body = _Font(family, aliased=ss == 1 and _chance(rng, 0.2)).sized(
        max(7 * ss, unit * _ru(rng, 0.03, 0.055)))
    pad = max(2, round(width * _ru(rng, 0.04, 0.08)))
    footer = _slide_footer(draw, rng, width, height, pad, theme, body.sized(_ri(rng, 7, 11) * ss))
    layout = _pick(rng, ("title", "bullets", "bullets", "image", "diagram", "columns", "chart"))
    title_size = unit * (_ru(rng, 0.1, 0.16) if layout == "title" else _ru(rng, 0.055, 0.1))
    title = body.sized(title_size).styled("bold" if _chance(rng, 0.7) else "regular")
    top = _slide_title(img, draw, rng, (pad, pad, width - pad, footer), title, theme,
                       centred=layout == "title")
    area = (pad, top, width - pad, footer - pad // 2)
    if layout == "title":
        _slide_subtitle(draw, rng, area, body.sized(body.size * 1.3), theme)
    elif layout == "bullets":
        _slide_bullets_and_image(img, draw, rng, area, body, theme)
    elif layout == "image":
        _slide_image(img, draw, rng, area, body, theme)
    elif layout == "diagram":
        _slide_diagram(draw, rng, area, body, theme, ss)
    elif layout == "chart":
        _chart_panel(draw, rng, area, theme, body.sized(body.size * 0.75), ss)
    else:
        _slide_columns(draw, rng, area, body, theme)
    _slide_logo(draw, rng, width, height, pad, body, theme)
    return img.reduce(ss) if ss > 1 else img


def _slide_background(rng: np.random.Generator, h: int, w: int, theme: _Theme) -> Image.Image:
    """Plain, gradient, or plain with a decorative accent shape, as slide templates are."""
    style = int(rng.integers(3))
    if style == 1:
        return _backdrop(rng, h, w, theme.bg, _mix(theme.bg, theme.accent, _ru(rng, 0.1, 0.8)))
    img = Image.new("RGB", (w, h), theme.bg)
    if style == 2:
        draw = _Draw(img)
        colour = _mix(theme.bg, theme.accent, _ru(rng, 0.15, 0.9))
        r = round(min(h, w) * _ru(rng, 0.2, 0.6))
        cx, cy = _pick(rng, ((0, 0), (w, 0), (0, h), (w, h)))
        if _chance(rng, 0.5):
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            draw.polygon([(cx, cy), (abs(cx - r), cy), (cx, abs(cy - r))], fill=colour)
    return img


def _slide_title(img: Image.Image, draw: ImageDraw.ImageDraw, rng: np.random.Generator,
                 box: Box, font: _Font, theme: _Theme, centred: bool) -> int:
    """Draw the title (maybe on a coloured band); return the y where content starts."""
    x0, y0, x1, y1 = box
    words = _title(rng, 2, 7).split()
    lines = _wrap(words, font, x1 - x0)[:2]
    step = round(_line_height(font) * 1.15)
    colour = theme.accent if _chance(rng, 0.3) else theme.text
    y = (y0 + y1) // 2 - step * len(lines) if centred else y0
    band = 0
    if not centred and _chance(rng, 0.35):
        band = y0 + step * len(lines) + y0 // 2
        draw.rectangle((0, 0, img.width, band), fill=theme.accent)
        colour = _on(theme.accent)
    for line in lines:
        text = " ".join(line)
        x = (x0 + x1 - _text_width(text, font)) / 2 if centred else x0
        _draw_text(draw, x, y, text, font, colour)
        y += step
    return max(y + step // 2, band + step // 3)


def _slide_subtitle(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, font: _Font,
                    theme: _Theme) -> None:
    """Subtitle and presenter line of a title slide, centred."""
    x0, y0, x1, _ = box
    draw.line((x0 + (x1 - x0) // 3, y0, x1 - (x1 - x0) // 3, y0), fill=theme.accent,
              width=max(1, font.size // 8))
    y = y0 + font.size
    for text, f in ((_title(rng, 3, 8), font), (_title(rng, 2, 3), font.sized(font.size * 0.7))):
        text = _fit(text, f, x1 - x0)
        _draw_text(draw, (x0 + x1 - _text_width(text, f)) / 2, y, text, f, theme.muted)
        y += round(_line_height(f) * 1.6)


def _slide_bullets_and_image(img: Image.Image, draw: ImageDraw.ImageDraw,
                             rng: np.random.Generator, box: Box, font: _Font,
                             theme: _Theme) -> None:
    """Bullet points, often beside a picture."""
    x0, y0, x1, y1 = box
    if _chance(rng, 0.5) and x1 - x0 > 60:
        split = x0 + round((x1 - x0) * _ru(rng, 0.5, 0.62))
        _paste_photo(img, rng, (split + font.size, y0, x1, y1))
        box = (x0, y0, split, y1)
    _slide_bullets(draw, rng, box, font, theme)


def _slide_bullets(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, font: _Font,
                   theme: _Theme) -> None:
    """Bullets and sub-bullets with drawn markers, wrapped to the box."""
    x0, y, x1, y1 = box
    marker = int(rng.integers(3))
    leading = _ru(rng, 1.15, 1.5)
    while y < y1:
        level = 1 if _chance(rng, 0.25) else 0
        f = font.sized(font.size * 0.85) if level else font
        m = max(2, f.size // 3)
        x = x0 + level * font.size * 2
        cy = y + _line_height(f) // 2
        if marker == 0:
            draw.ellipse((x, cy - m // 2, x + m, cy + m - m // 2), fill=theme.accent)
        elif marker == 1:
            draw.rectangle((x, cy - m // 2, x + m, cy + m - m // 2), fill=theme.accent)
        else:
            draw.line((x, cy, x + m, cy), fill=theme.text, width=max(1, m // 3))
        style = _Paragraph(f, theme.text, leading)
        text_box = (x + m + f.size // 2, y, x1, min(y1, y + round(_line_height(f) * leading * 2)))
        y = _draw_paragraph(draw, rng, text_box, _prose(rng, _ri(rng, 3, 16)), style)
        y += round(f.size * _ru(rng, 0.3, 0.9))


def _slide_image(img: Image.Image, draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box,
                 font: _Font, theme: _Theme) -> None:
    """A large picture with a caption under it."""
    x0, y0, x1, y1 = box
    caption_h = round(_line_height(font) * 1.5)
    _paste_photo(img, rng, (x0, y0, x1, y1 - caption_h))
    _draw_text(draw, x0, y1 - caption_h + font.size // 3, " ".join(_prose(rng, _ri(rng, 4, 12))),
               font.sized(font.size * 0.8).styled("italic"), theme.muted)


def _slide_diagram(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, font: _Font,
                   theme: _Theme, ss: int) -> None:
    """A process diagram: labelled boxes joined by arrows, in a row or a grid."""
    x0, y0, x1, y1 = box
    cols, rows = _ri(rng, 2, 4), _ri(rng, 1, 2)
    cell_w, cell_h = (x1 - x0) / cols, (y1 - y0) / rows
    colours = _palette(rng, cols * rows)
    centres = []
    for i in range(cols * rows):
        cx, cy = x0 + cell_w * (i % cols + 0.5), y0 + cell_h * (i // cols + 0.5)
        bw, bh = cell_w * _ru(rng, 0.55, 0.75), min(cell_h * 0.6, cell_w * 0.5)
        rect = (round(cx - bw / 2), round(cy - bh / 2), round(cx + bw / 2), round(cy + bh / 2))
        fill = colours[i] if _chance(rng, 0.7) else theme.surface
        if _chance(rng, 0.5):
            draw.rounded_rectangle(rect, radius=round(bh / 5), fill=fill)
        else:
            draw.ellipse(rect, fill=fill)
        label = _fit(_title(rng, 1, 2), font, rect[2] - rect[0] - font.size)
        _draw_centred(draw, rect, label, font, _on(fill))
        if centres:
            px, py = centres[-1]
            _draw_arrow(draw, (px + bw / 2 if py == cy else px, py if py == cy else py + bh / 2),
                        (cx - bw / 2 if py == cy else cx, cy if py == cy else cy - bh / 2),
                        theme.muted, max(1, ss * _ri(rng, 1, 3)))
        centres.append((cx, cy))


def _slide_columns(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, font: _Font,
                   theme: _Theme) -> None:
    """Two or three columns, each a coloured icon, a heading and a short paragraph."""
    x0, y0, x1, y1 = box
    cols = _ri(rng, 2, 3)
    gap = font.size * 2
    col_w = ((x1 - x0) - gap * (cols - 1)) / cols
    for i, colour in enumerate(_palette(rng, cols)):
        cx = round(x0 + i * (col_w + gap))
        icon = font.size * 2
        draw.ellipse((cx, y0, cx + icon, y0 + icon), fill=colour)
        y = y0 + icon + font.size
        heading = font.styled("bold")
        _draw_text(draw, cx, y, _fit(_title(rng, 1, 3), heading, col_w), heading, theme.text)
        y += round(_line_height(heading) * 1.6)
        _draw_paragraph(draw, rng, (cx, y, round(cx + col_w), y1),
                        _prose(rng, _ri(rng, 10, 40)), _Paragraph(font.sized(font.size * 0.85),
                                                                  theme.muted))


def _slide_footer(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, pad: int,
                  theme: _Theme, font: _Font) -> int:
    """Tiny footer text and slide number; returns the y above it."""
    if not _chance(rng, 0.6):
        return h - pad // 2
    y = h - pad // 2 - _line_height(font)
    if _chance(rng, 0.5):
        draw.line((pad, y - font.size // 2, w - pad, y - font.size // 2), fill=theme.line)
    _draw_text(draw, pad, y, _title(rng, 2, 5), font, theme.muted)
    number = str(_ri(rng, 1, 60))
    _draw_text(draw, w - pad - _text_width(number, font), y, number, font, theme.muted)
    return y - font.size


def _slide_logo(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int, pad: int,
                font: _Font, theme: _Theme) -> None:
    """A company mark in a corner: a coloured shape and a bold name."""
    if not _chance(rng, 0.5):
        return
    s = max(4, font.size)
    logo_font = font.sized(s * 0.9).styled("bold")
    name = _title(rng, 1, 1)
    x = w - pad - s - round(_text_width(name, logo_font)) - s // 3
    y = pad // 3 if _chance(rng, 0.5) else h - pad // 3 - s
    if _chance(rng, 0.5):
        draw.ellipse((x, y, x + s, y + s), fill=theme.accent)
    else:
        draw.regular_polygon((x + s / 2, y + s / 2, s / 2), _ri(rng, 3, 6), fill=theme.accent)
    _draw_text(draw, x + s + s // 3, y + (s - _line_height(logo_font)) / 2, name, logo_font,
               theme.text)
