"""The ``"ui"`` kind: a desktop with application windows."""

import numpy as np
from PIL import Image, ImageDraw

from .canvas import Box, _Draw
from .colour import _PALETTES, _accent, _backdrop, _mix, _palette, _shift, _Theme, _theme
from .photos import _photo
from .sampling import _chance, _log_int, _pick, _ri, _ru
from .text import (
    _draw_centred,
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


def _render_ui(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A desktop: wallpaper, a menu bar or taskbar, overlapping application windows (file
    browser, settings form, message list) and sometimes a modal dialog. Dark and light."""
    theme = _theme(rng, dark=_chance(rng, 0.45))
    if _chance(rng, 0.35):
        img = Image.fromarray(_photo(rng, h, w))
    else:
        img = _backdrop(rng, h, w, _accent(rng, True), _accent(rng, False))
    draw = _Draw(img)
    font = _Font(_pick(rng, ("sans", "sans", "condensed")), _log_int(rng, 7, 14),
                 aliased=_chance(rng, 0.25))
    top, bottom = _ui_desktop_bars(draw, rng, w, h, theme, font)
    for _ in range(_ri(rng, 0, 3)):
        ww, wh = round(w * _ru(rng, 0.3, 0.95)), round((bottom - top) * _ru(rng, 0.45, 0.95))
        x, y = _ri(rng, 0, w - ww), _ri(rng, top, bottom - wh)
        shadow = (0, 0, 0) if theme.dark else _shift(theme.bg, -40)
        draw.rectangle((x + 3, y + 3, x + ww + 3, y + wh + 3), fill=shadow)
        img.paste(_ui_window(rng, ww, wh, theme, font), (x, y))
    if _chance(rng, 0.35):
        _ui_dialog(draw, rng, w, h, theme, font)
    return img


def _ui_desktop_bars(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int,
                     theme: _Theme, font: _Font) -> tuple[int, int]:
    """A top menu bar (mac-like) or a bottom taskbar; returns the free vertical span."""
    bar_h = round(_line_height(font) * _ru(rng, 1.6, 2.6))
    ink = theme.text
    if _chance(rng, 0.5):
        draw.rectangle((0, 0, w, bar_h), fill=theme.surface)
        text_y = (bar_h - _line_height(font)) / 2
        clock = f"{_ri(rng, 0, 23):02d}:{_ri(rng, 0, 59):02d}"
        clock_x = w - font.size - _text_width(clock, font)
        _draw_text(draw, clock_x, text_y, clock, font, ink)
        x = font.size
        for i in range(_ri(rng, 3, 7)):
            item_font = font.styled("bold") if i == 0 else font
            item = _title(rng, 1, 1)
            if x + _text_width(item, item_font) > clock_x - font.size:
                break
            x += _draw_text(draw, x, text_y, item, item_font, ink) + font.size * 1.5
        return bar_h + 1, h
    draw.rectangle((0, h - bar_h, w, h), fill=theme.surface)
    icon = max(4, bar_h * 2 // 3)
    for i in range(max(0, min(12, w // (icon * 2) - 2))):
        _draw_icon(draw, rng, icon + i * icon * 3 // 2, h - bar_h + (bar_h - icon) // 2, icon,
                   _pick(rng, _PALETTES[2]))
    return 0, h - bar_h - 1


def _ui_window(rng: np.random.Generator, w: int, h: int, theme: _Theme,
               font: _Font) -> Image.Image:
    """An application window: title bar, toolbar and one kind of content. Drawn on its own
    canvas so that whatever overflows is clipped at the window edge, as on a real desktop."""
    win = Image.new("RGB", (max(1, w), max(1, h)), theme.bg)
    draw = _Draw(win)
    x0, y0, x1, y1 = 0, 0, w - 1, h - 1
    draw.rectangle((x0, y0, x1, y1), outline=theme.line)
    title_h = round(_line_height(font) * 2)
    draw.rectangle((x0, y0, x1, y0 + title_h), fill=theme.surface)
    r = max(2, title_h // 5)
    if _chance(rng, 0.5):  # mac traffic lights on the left
        for i, colour in enumerate(((255, 95, 86), (255, 189, 46), (39, 201, 63))):
            cx = x0 + r * 2 + i * r * 3
            cy = y0 + title_h // 2
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:  # windows-style glyphs on the right
        for i, glyph in enumerate(("×", "□", "–")):
            _draw_text(draw, x1 - font.size * 2 * (i + 1), y0 + (title_h - _line_height(font)) / 2,
                       glyph, font, theme.text)
    _draw_centred(draw, (x0, y0, x1, y0 + title_h), _title(rng, 1, 4), font.styled("bold"),
                  theme.text)
    y = y0 + title_h + 1
    icon = max(4, round(font.size * 1.2))
    if _chance(rng, 0.6):
        for i in range(max(0, min(14, (x1 - x0) // (icon * 2) - 1))):
            _draw_icon(draw, rng, x0 + icon // 2 + i * icon * 2, y + icon // 2, icon, theme.muted)
        y += icon * 2
        draw.line((x0, y, x1, y), fill=theme.line)
    content = _pick(rng, (_ui_files, _ui_settings, _ui_messages))
    content(draw, rng, (x0 + 1, y + 1, x1 - 1, y1 - 1), theme, font)
    return win


def _ui_files(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box,
              theme: _Theme, font: _Font) -> None:
    """A file browser: a sidebar of places and a grid of icons or a detailed list."""
    x0, y0, x1, y1 = box
    side = round((x1 - x0) * _ru(rng, 0.18, 0.3))
    draw.rectangle((x0, y0, x0 + side, y1), fill=theme.surface)
    step = round(_line_height(font) * 1.8)
    for i, y in enumerate(range(y0 + step // 2, y1 - step, step)):
        _draw_icon(draw, rng, x0 + font.size // 2, y, font.size, theme.accent)
        _draw_text(draw, x0 + font.size * 2, y, _title(rng, 1, 2), font,
                   theme.accent if i == 1 else theme.text)
    left = x0 + side + font.size
    if _chance(rng, 0.5):
        cell = font.size * _ri(rng, 5, 8)
        for y in range(y0 + font.size, y1 - cell, cell):
            for x in range(left, x1 - cell, cell):
                size = cell // 2
                _draw_icon(draw, rng, x + cell // 4, y, size, _pick(rng, _PALETTES[1]))
                _draw_centred(draw, (x, y + size, x + cell, y + size + step), _identifier(rng)[:10],
                              font.sized(font.size * 0.9), theme.text)
        return
    columns = (left, left + (x1 - left) * 0.5, left + (x1 - left) * 0.75)
    for i, y in enumerate(range(y0 + step // 3, y1 - step, step)):
        if i % 2:
            draw.rectangle((x0 + side, y - step // 4, x1, y + step * 3 // 4), fill=theme.surface)
        cells = (_identifier(rng) + _pick(rng, (".pdf", ".png", ".docx", ".txt", "")),
                 f"{_ri(rng, 2019, 2025)}-{_ri(rng, 1, 12):02d}-{_ri(rng, 1, 28):02d}",
                 f"{_ri(rng, 1, 999)} {_pick(rng, ('KB', 'MB', 'items'))}")
        for x, text in zip(columns, cells, strict=True):
            _draw_text(draw, x, y, text, font, theme.text if x == left else theme.muted)


def _ui_settings(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box,
                 theme: _Theme, font: _Font) -> None:
    """A settings form: labels with toggles, checkboxes, sliders, text fields and dropdowns."""
    x0, y0, x1, y1 = box
    step = round(_line_height(font) * _ru(rng, 2.2, 3.2))
    control_x = x0 + round((x1 - x0) * 0.55)
    s = _line_height(font)
    for y in range(y0 + step // 2, y1 - step, step):
        label = _fit(_title(rng, 1, 4), font, control_x - x0 - 2 * font.size)
        _draw_text(draw, x0 + font.size, y, label, font, theme.text)
        cy = y + s // 2
        kind = int(rng.integers(5))
        on = _chance(rng, 0.5)
        if kind == 0:  # toggle
            draw.rounded_rectangle((control_x, cy - s // 2, control_x + 2 * s, cy + s // 2),
                                   radius=s // 2, fill=theme.accent if on else theme.line)
            knob = control_x + (s if on else 0)
            draw.ellipse((knob + 1, cy - s // 2 + 1, knob + s - 1, cy + s // 2 - 1),
                         fill=(250, 250, 250))
        elif kind == 1:  # checkbox
            draw.rectangle((control_x, cy - s // 2, control_x + s, cy + s // 2),
                           fill=theme.accent if on else theme.bg, outline=theme.muted)
            if on:
                draw.line((control_x + s * 0.2, cy, control_x + s * 0.45, cy + s * 0.3,
                           control_x + s * 0.8, cy - s * 0.3), fill=(255, 255, 255),
                          width=max(1, s // 6))
        elif kind == 2:  # slider
            end = x1 - font.size
            knob = control_x + (end - control_x) * _ru(rng, 0.1, 0.9)
            draw.line((control_x, cy, end, cy), fill=theme.line, width=max(1, s // 6))
            draw.line((control_x, cy, knob, cy), fill=theme.accent, width=max(1, s // 6))
            draw.ellipse((knob - s // 2, cy - s // 2, knob + s // 2, cy + s // 2),
                         fill=theme.accent)
        else:  # text field or dropdown
            field = (control_x, y - s // 3, x1 - font.size, y + s + s // 3)
            draw.rounded_rectangle(field, radius=s // 4, fill=theme.bg, outline=theme.line)
            _draw_text(draw, control_x + font.size // 2, y, " ".join(_prose(rng, _ri(rng, 1, 3))),
                       font, theme.text)
            if kind == 4:
                _draw_text(draw, field[2] - font.size * 1.5, y, "▾", font, theme.muted)


def _ui_messages(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, theme: _Theme,
                 font: _Font) -> None:
    """A chat or mail list: avatars, bold names, grey previews and times."""
    x0, y0, x1, y1 = box
    line = _line_height(font)
    step = round(line * _ru(rng, 3.0, 4.0))
    avatar = round(line * 2.2)
    palette = _palette(rng, 6)
    for i, y in enumerate(range(y0 + font.size // 2, y1 - step // 2, step)):
        if i == 1:
            draw.rectangle((x0, y - font.size // 3, x1, y + step - font.size // 2),
                           fill=_mix(theme.bg, theme.accent, 0.18))
        draw.ellipse((x0 + font.size, y, x0 + font.size + avatar, y + avatar),
                     fill=_pick(rng, palette))
        tx = x0 + font.size * 2 + avatar
        _draw_text(draw, tx, y, _title(rng, 2, 2), font.styled("bold"), theme.text)
        time = f"{_ri(rng, 1, 12)}:{_ri(rng, 0, 59):02d}"
        _draw_text(draw, x1 - font.size - _text_width(time, font), y, time, font, theme.muted)
        _draw_text(draw, tx, y + line * 1.3, " ".join(_prose(rng, _ri(rng, 5, 16))), font,
                   theme.muted)
        draw.line((tx, y + step - font.size // 2, x1, y + step - font.size // 2), fill=theme.line)


def _ui_dialog(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int,
               theme: _Theme, font: _Font) -> None:
    """A centred modal dialog: title, message and OK/Cancel buttons."""
    dw, dh = min(w - 4, font.size * _ri(rng, 22, 36)), min(h - 4, font.size * _ri(rng, 9, 14))
    x0, y0 = (w - dw) // 2, (h - dh) // 2
    draw.rounded_rectangle((x0 + 4, y0 + 6, x0 + dw + 4, y0 + dh + 6), radius=font.size // 2,
                           fill=(0, 0, 0))
    draw.rounded_rectangle((x0, y0, x0 + dw, y0 + dh), radius=font.size // 2, fill=theme.surface,
                           outline=theme.line)
    pad = font.size
    bold = font.sized(font.size * 1.2).styled("bold")
    _draw_text(draw, x0 + pad, y0 + pad, _title(rng, 2, 4) + "?", bold, theme.text)
    body_top = y0 + pad + round(_line_height(bold) * 1.8)
    bh = round(_line_height(font) * 2)
    _draw_paragraph(draw, rng, (x0 + pad, body_top, x0 + dw - pad, y0 + dh - bh - pad * 2),
                    _prose(rng, _ri(rng, 10, 30)), _Paragraph(font, theme.text))
    x = x0 + dw - pad
    for i, label in enumerate(("OK", "Cancel")):
        bw = round(_text_width(label, font) + font.size * 3)
        x -= bw
        _draw_button(draw, (x, y0 + dh - pad - bh, x + bw, y0 + dh - pad), label, font,
                     theme.accent if i == 0 else theme.muted, i > 0)
        x -= pad
