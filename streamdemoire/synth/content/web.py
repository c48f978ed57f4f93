"""The ``"web"`` kind: web pages."""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .canvas import RGB, _Draw
from .chart import _chart_panel
from .colour import _backdrop, _grey, _mix, _on, _shift, _Theme, _theme
from .editor import _CODE_THEMES, _code_body
from .photos import _paste_photo
from .sampling import _chance, _log_int, _pick, _ri, _ru
from .spreadsheet import _cell_value
from .text import (
    _draw_paragraph,
    _draw_text,
    _fit,
    _Font,
    _identifier,
    _line_height,
    _Paragraph,
    _prose,
    _text_width,
    _title,
)
from .widgets import _draw_button, _draw_icon


@dataclass(frozen=True)
class _Page:
    """Shared state of one web page render: canvas, theme, fonts, content column."""

    img: Image.Image
    draw: ImageDraw.ImageDraw
    theme: _Theme
    body: _Font
    left: int
    right: int
    link: RGB


def _render_web(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A web page on a plain or (one in five) gradient background: optional browser chrome,
    a nav bar, then headings, paragraphs with links, images, cards, buttons, lists and forms
    stacked down the page for as long as it is tall."""
    theme = _theme(rng, dark=_chance(rng, 0.2))
    img = (_backdrop(rng, h, w, theme.bg, _mix(theme.bg, theme.accent, _ru(rng, 0.1, 0.6)))
           if _chance(rng, 0.2) else Image.new("RGB", (w, h), theme.bg))
    draw = _Draw(img)
    body = _Font(_pick(rng, ("sans", "sans", "serif", "condensed")), _log_int(rng, 7, 17),
                 aliased=_chance(rng, 0.2))
    y = _browser_chrome(draw, rng, w, body) if _chance(rng, 0.35) else 0
    y = _web_navbar(draw, rng, w, y, theme, body)
    width = min(w - 2 * max(4, w // 30), _ri(rng, 420, 1100))
    left = (w - width) // 2
    link = (26, 13, 171) if not theme.dark else (138, 180, 248)
    page = _Page(img, draw, theme, body, left, left + width, theme.accent if _chance(rng, 0.5)
                 else link)
    if _chance(rng, 0.3) and width > 360:
        page = _web_sidebar(page, rng, y, h)
    blocks = (_web_heading, _web_paragraph, _web_paragraph, _web_paragraph, _web_image,
              _web_cards, _web_buttons, _web_list, _web_form, _web_table, _web_code, _web_chart)
    y += body.size * 2
    while y < h:
        y = _pick(rng, blocks)(page, rng, y) + round(body.size * _ru(rng, 0.8, 2.0))
    return img


def _browser_chrome(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int,
                    font: _Font) -> int:
    """Browser tab strip and address bar at the top of the screen; returns its height."""
    f = _Font("sans", max(7, min(font.size, 12)))
    row = round(_line_height(f) * 2.4)
    shade = _ri(rng, 200, 235) if _chance(rng, 0.7) else _ri(rng, 30, 60)
    draw.rectangle((0, 0, w, 2 * row), fill=_grey(shade))
    tab_bg = _grey(min(255, shade + 25) if shade > 128 else shade + 25)
    ink = _on(tab_bg)
    tab_w = min(w // 3, f.size * 18)
    draw.rounded_rectangle((f.size, row // 5, f.size + tab_w, row + 4), radius=f.size // 2,
                           fill=tab_bg)
    _draw_text(draw, f.size * 2, (row - _line_height(f)) / 2, _title(rng, 2, 4), f, ink)
    draw.rectangle((0, row, w, 2 * row), fill=tab_bg)
    for i in range(3):
        _draw_icon(draw, rng, f.size + i * f.size * 2, row + row // 3, row // 3,
                   _mix(ink, tab_bg, 0.4))
    bar = (f.size * 8, row + row // 6, w - f.size * 4, 2 * row - row // 6)
    draw.rounded_rectangle(bar, radius=(bar[3] - bar[1]) // 2, fill=_shift(tab_bg, -12))
    site = _identifier(rng).replace("_", "")
    url = f"https://www.{site}.com/{_identifier(rng)}/{_ri(rng, 1, 999)}"
    _draw_text(draw, bar[0] + f.size, (bar[1] + bar[3] - _line_height(f)) / 2, url, f, ink)
    draw.line((0, 2 * row, w, 2 * row), fill=_shift(tab_bg, -30))
    return 2 * row + 1


def _web_navbar(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, y: int,
                theme: _Theme, font: _Font) -> int:
    """Site header: logo text left, links right, on a coloured or plain bar; returns its bottom."""
    bar_h = round(_line_height(font) * _ru(rng, 2.5, 4.5))
    fill = theme.accent if _chance(rng, 0.4) else theme.surface if _chance(rng, 0.5) else theme.bg
    draw.rectangle((0, y, w, y + bar_h), fill=fill)
    draw.line((0, y + bar_h, w, y + bar_h), fill=theme.line)
    ink = _on(fill) if fill == theme.accent else theme.text
    logo = font.sized(font.size * 1.5).styled("bold")
    pad = max(font.size, w // 25)
    logo_end = pad + _draw_text(draw, pad, y + (bar_h - _line_height(logo)) / 2,
                                _title(rng, 1, 2), logo, ink)
    x = w - pad
    for _ in range(_ri(rng, 2, 6)):
        item = _title(rng, 1, 2)
        x -= _text_width(item, font) + font.size * 2
        if x < logo_end + font.size * 2:
            break
        _draw_text(draw, x, y + (bar_h - _line_height(font)) / 2, item, font, ink)
    return y + bar_h + 1


def _web_sidebar(page: _Page, rng: np.random.Generator, y: int, h: int) -> _Page:
    """A side column of link lists; returns the page with the main column narrowed."""
    width = round((page.right - page.left) * _ru(rng, 0.22, 0.3))
    on_left = _chance(rng, 0.5)
    x0 = page.left if on_left else page.right - width
    page.draw.rectangle((x0, y, x0 + width, h), fill=page.theme.surface)
    f = page.body.sized(page.body.size * 0.9)
    step = round(_line_height(f) * 1.8)
    yy = y + step
    while yy < h:
        if _chance(rng, 0.15):
            _draw_text(page.draw, x0 + f.size, yy, _title(rng, 1, 2).upper(), f.styled("bold"),
                       page.theme.muted)
        else:
            _draw_text(page.draw, x0 + f.size, yy, _title(rng, 1, 3), f, page.link)
        yy += step
    gap = page.body.size * 2
    left, right = (x0 + width + gap, page.right) if on_left else (page.left, x0 - gap)
    return _Page(page.img, page.draw, page.theme, page.body, left, right, page.link)


def _web_heading(page: _Page, rng: np.random.Generator, y: int) -> int:
    """An h1-h3 heading, sometimes in the accent colour."""
    font = page.body.sized(page.body.size * _ru(rng, 1.3, 2.6)).styled("bold")
    colour = page.theme.accent if _chance(rng, 0.2) else page.theme.text
    style = _Paragraph(font, colour, 1.15)
    return _draw_paragraph(page.draw, rng, (page.left, y, page.right, y + _line_height(font) * 3),
                           _title(rng, 2, 9).split(), style)


def _web_paragraph(page: _Page, rng: np.random.Generator, y: int) -> int:
    """Body text with the odd underlined link."""
    style = _Paragraph(page.body, page.theme.text, _ru(rng, 1.3, 1.7), _chance(rng, 0.2), page.link)
    return _draw_paragraph(page.draw, rng, (page.left, y, page.right, y + 10_000),
                           _prose(rng, _ri(rng, 15, 110)), style)


def _web_image(page: _Page, rng: np.random.Generator, y: int) -> int:
    """A picture across the column or part of it, with an optional caption."""
    width = page.right - page.left
    iw = round(width * (1.0 if _chance(rng, 0.5) else _ru(rng, 0.4, 0.8)))
    ih = round(iw * _ru(rng, 0.35, 0.75))
    x = page.left + (_ri(rng, 0, width - iw) if _chance(rng, 0.3) else 0)
    _paste_photo(page.img, rng, (x, y, x + iw, y + ih))
    y += ih
    if _chance(rng, 0.4):
        f = page.body.sized(page.body.size * 0.85).styled("italic")
        _draw_text(page.draw, x, y + f.size // 2, " ".join(_prose(rng, _ri(rng, 3, 10))), f,
                   page.theme.muted)
        y += round(_line_height(f) * 1.6)
    return y


def _web_cards(page: _Page, rng: np.random.Generator, y: int) -> int:
    """A row of cards: image, title, blurb and a link or button."""
    n = _ri(rng, 2, 4)
    gap = page.body.size * 2
    card_w = ((page.right - page.left) - gap * (n - 1)) // n
    if card_w < page.body.size * 5:
        return y
    img_h = round(card_w * _ru(rng, 0.5, 0.75))
    text_h = round(_line_height(page.body) * 1.4 * 5)
    bottom = y + img_h + text_h + page.body.size * 4
    bold = page.body.styled("bold")
    for i in range(n):
        x = page.left + i * (card_w + gap)
        page.draw.rounded_rectangle((x, y, x + card_w, bottom), radius=page.body.size // 2,
                                    fill=page.theme.surface, outline=page.theme.line)
        _paste_photo(page.img, rng, (x + 1, y + 1, x + card_w, y + img_h))
        pad = page.body.size
        ty = y + img_h + pad
        _draw_text(page.draw, x + pad, ty, _title(rng, 1, 3), bold, page.theme.text)
        _draw_paragraph(page.draw, rng, (x + pad, ty + round(_line_height(bold) * 1.6),
                                         x + card_w - pad, bottom - pad * 3),
                        _prose(rng, _ri(rng, 8, 30)), _Paragraph(page.body, page.theme.muted))
        _draw_text(page.draw, x + pad, bottom - pad * 2, _title(rng, 1, 2) + " →", page.body,
                   page.link)
    return bottom


def _web_buttons(page: _Page, rng: np.random.Generator, y: int) -> int:
    """One to three call-to-action buttons."""
    font = page.body.styled("bold") if _chance(rng, 0.5) else page.body
    bh = round(_line_height(font) * _ru(rng, 2.0, 3.0))
    x = page.left
    roundness = _pick(rng, (0.0, 0.1, 0.2, 0.5))
    for i in range(_ri(rng, 1, 3)):
        label = _title(rng, 1, 3)
        bw = round(_text_width(label, font) + font.size * _ru(rng, 2.0, 4.0))
        _draw_button(page.draw, (x, y, x + bw, y + bh), label, font, page.theme.accent, i > 0,
                     roundness)
        x += bw + font.size
    return y + bh


def _web_list(page: _Page, rng: np.random.Generator, y: int) -> int:
    """A bulleted list, of links or of short sentences."""
    step = round(_line_height(page.body) * 1.6)
    links = _chance(rng, 0.5)
    for _ in range(_ri(rng, 2, 8)):
        r = max(1, page.body.size // 6)
        cy = y + _line_height(page.body) // 2
        page.draw.ellipse((page.left + r, cy - r, page.left + 3 * r, cy + r), fill=page.theme.text)
        text = _title(rng, 2, 5) if links else " ".join(_prose(rng, _ri(rng, 4, 12)))
        colour = page.link if links else page.theme.text
        x = page.left + page.body.size * 1.5
        _draw_text(page.draw, x, y, _fit(text, page.body, page.right - x), page.body, colour)
        y += step
    return y


def _web_form(page: _Page, rng: np.random.Generator, y: int) -> int:
    """Labelled input fields and a submit button."""
    font = page.body
    field_h = round(_line_height(font) * 2.2)
    field_w = min(page.right - page.left, font.size * _ri(rng, 20, 40))
    for _ in range(_ri(rng, 1, 4)):
        _draw_text(page.draw, page.left, y, _title(rng, 1, 2), font.styled("bold"), page.theme.text)
        y += round(_line_height(font) * 1.5)
        page.draw.rounded_rectangle((page.left, y, page.left + field_w, y + field_h),
                                    radius=font.size // 3, fill=page.theme.bg,
                                    outline=page.theme.line)
        if _chance(rng, 0.6):
            _draw_text(page.draw, page.left + font.size, y + (field_h - _line_height(font)) / 2,
                       " ".join(_prose(rng, _ri(rng, 1, 3))), font, page.theme.muted)
        y += field_h + font.size
    return _web_buttons(page, rng, y)


def _web_table(page: _Page, rng: np.random.Generator, y: int) -> int:
    """A data table: bold header, ruled rows, text left and numbers right aligned."""
    kinds = [0] + [int(rng.integers(1, 6)) for _ in range(_ri(rng, 1, 4))]
    col_w = (page.right - page.left) / len(kinds)
    row_h = round(_line_height(page.body) * 2.0)
    pad = page.body.size // 2
    bold = page.body.styled("bold")
    page.draw.rectangle((page.left, y, page.right, y + row_h), fill=page.theme.surface)
    for i in range(len(kinds)):
        x = page.left + i * col_w + pad
        _draw_text(page.draw, x, y + pad, _fit(_title(rng, 1, 2), bold, col_w - 2 * pad), bold,
                   page.theme.text)
    for _ in range(_ri(rng, 2, 10)):
        y += row_h
        page.draw.line((page.left, y, page.right, y), fill=page.theme.line)
        for i, kind in enumerate(kinds):
            value = _fit(_cell_value(rng, kind), page.body, col_w - 2 * pad)
            x = page.left + i * col_w + pad
            if kind:
                x = page.left + (i + 1) * col_w - pad - _text_width(value, page.body)
            _draw_text(page.draw, x, y + pad, value, page.body, page.theme.text)
    return y + row_h


def _web_code(page: _Page, rng: np.random.Generator, y: int) -> int:
    """A code listing in a box, as on documentation sites and blogs."""
    theme = _pick(rng, _CODE_THEMES)
    font = _Font("mono", max(7, page.body.size - _ri(rng, 0, 3)), aliased=page.body.aliased)
    width, height = page.right - page.left, round(_line_height(font) * _ri(rng, 4, 16) * 1.4)
    block = Image.new("RGB", (max(1, width), height), theme.bg)  # own canvas: long lines clip
    _code_body(_Draw(block), rng, (font.size, font.size // 2, width, height - font.size // 2),
               theme, font)
    page.img.paste(block, (page.left, y))
    return y + height


def _web_chart(page: _Page, rng: np.random.Generator, y: int) -> int:
    """A chart figure in the text column."""
    bottom = y + round((page.right - page.left) * _ru(rng, 0.35, 0.6))
    page.draw.rectangle((page.left, y, page.right, bottom), fill=page.theme.surface)
    _chart_panel(page.draw, rng, (page.left, y, page.right, bottom), page.theme, page.body, 1)
    return bottom
