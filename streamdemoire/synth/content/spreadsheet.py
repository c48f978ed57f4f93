"""The ``"spreadsheet"`` kind: spreadsheets (web pages reuse their cell values)."""

import numpy as np
from PIL import Image, ImageDraw

from .canvas import RGB, _Draw
from .colour import _accent, _grey, _mix, _on
from .sampling import _chance, _log_int, _pick, _ri, _ru
from .text import _draw_centred, _draw_text, _fit, _Font, _line_height, _prose, _text_width, _title
from .widgets import _draw_icon


def _column_name(i: int) -> str:
    """Spreadsheet column letters: A..Z, AA, AB, ..."""
    name = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        name = chr(65 + rem) + name
    return name


def _cell_value(rng: np.random.Generator, kind: int) -> str:
    """A cell of a column type: words, integer, decimal, currency, percent or date."""
    if kind == 0:
        return _title(rng, 1, 2) if _chance(rng, 0.5) else " ".join(_prose(rng, _ri(rng, 1, 3)))
    if kind == 1:
        return f"{_ri(rng, 0, 99_999):,}"
    if kind == 2:
        return f"{rng.normal(0, 500):.{_ri(rng, 1, 3)}f}"
    if kind == 3:
        return f"${_ru(rng, 0, 20_000):,.2f}"
    if kind == 4:
        return f"{_ru(rng, -30, 100):.1f}%"
    return f"{_ri(rng, 2015, 2026)}-{_ri(rng, 1, 12):02d}-{_ri(rng, 1, 28):02d}"


def _render_spreadsheet(rng: np.random.Generator, h: int, w: int,
                        chrome: bool = True) -> Image.Image:
    """A spreadsheet: column letters, row numbers, grid lines, a bold header row, text left and
    numbers right aligned, banded or coloured cells and a selected cell."""
    dark = _chance(rng, 0.12)
    bg = (32, 33, 36) if dark else (255, 255, 255)
    ink = (225, 225, 225) if dark else (20, 20, 20)
    grid = (70, 72, 76) if dark else _grey(_ri(rng, 200, 226))
    head_bg = (48, 50, 54) if dark else _grey(_ri(rng, 236, 248))
    img = Image.new("RGB", (w, h), bg)
    draw = _Draw(img)
    font = _Font(_pick(rng, ("sans", "sans", "condensed", "serif")), _log_int(rng, 7, 15),
                 aliased=_chance(rng, 0.25))
    row_h = _line_height(font) + _ri(rng, 4, 10)
    y = 0
    if chrome and _chance(rng, 0.5):
        y = _sheet_toolbar(draw, rng, w, font, head_bg, ink, grid)
    num_w = round(_text_width("0000", font) + font.size)
    kinds = [0] + [int(rng.integers(6)) for _ in range(max(1, w // (font.size * 4)))]
    widths = [_column_width(rng, kind, font) for kind in kinds]
    lefts = np.cumsum([num_w] + widths[:-1]).tolist()
    banded = _chance(rng, 0.3)
    band = _mix(bg, _accent(rng, dark), 0.12)
    draw.rectangle((0, y, w, y + row_h), fill=head_bg)
    draw.rectangle((0, y, num_w, h), fill=head_bg)
    for i, (x, cw) in enumerate(zip(lefts, widths, strict=True)):
        _draw_centred(draw, (x, y, x + cw, y + row_h), _column_name(i), font, ink)
    header_fill = _accent(rng, dark) if _chance(rng, 0.4) else None
    row = 1
    for top in range(y + row_h, h, row_h):
        _sheet_row(draw, rng, top, row, (font, row_h, num_w), (lefts, widths, kinds),
                   (ink, head_bg, header_fill, band if banded and row % 2 else None))
        row += 1
    for x in lefts + [lefts[-1] + widths[-1]]:
        draw.line((x, y, x, h), fill=grid)
    for top in range(y, h, row_h):
        draw.line((0, top, w, top), fill=grid)
    _sheet_selection(draw, rng, y + row_h, row_h, lefts, widths, h)
    return img


def _column_width(rng: np.random.Generator, kind: int, font: _Font) -> int:
    """A column wide enough for most of its values, as a user would have sized it; text
    columns get any width (long text is clipped, numbers that do not fit show ###)."""
    if kind == 0:
        return round(font.size * _ru(rng, 4.0, 12.0))
    widest = max(_text_width(_cell_value(rng, kind), font) for _ in range(4))
    return round(widest * _ru(rng, 1.0, 1.5) + font.size)


def _sheet_toolbar(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, font: _Font,
                   bg: RGB, ink: RGB, grid: RGB) -> int:
    """Icon toolbar and formula bar above the grid; returns its height."""
    bar = round(_line_height(font) * 2.2)
    draw.rectangle((0, 0, w, 2 * bar), fill=bg)
    icon = max(4, bar // 2)
    for i in range(max(0, w // (icon * 2))):
        _draw_icon(draw, rng, icon // 2 + i * icon * 2, (bar - icon) // 2, icon, _mix(ink, bg, 0.3))
    draw.line((0, bar, w, bar), fill=grid)
    _draw_text(draw, font.size, bar + (bar - _line_height(font)) / 2,
               f"{_column_name(_ri(rng, 0, 8))}{_ri(rng, 1, 99)}", font, ink)
    column = _column_name(_ri(rng, 0, 8))
    formula = f"=SUM({column}2:{column}{_ri(rng, 5, 99)})"
    _draw_text(draw, font.size * 8, bar + (bar - _line_height(font)) / 2, "fx  " + formula, font,
               ink)
    draw.line((0, 2 * bar, w, 2 * bar), fill=grid)
    return 2 * bar + 1


def _sheet_row(draw: ImageDraw.ImageDraw, rng: np.random.Generator, top: int, row: int,
               metrics: tuple[_Font, int, int], columns: tuple[list[int], list[int], list[int]],
               colours: tuple[RGB, RGB, RGB | None, RGB | None]) -> None:
    """One row: its number, optional fill, and cell values (header labels on row 1)."""
    font, row_h, num_w = metrics
    lefts, widths, kinds = columns
    ink, head_bg, header_fill, band = colours
    label = str(row)
    _draw_text(draw, num_w - font.size // 2 - _text_width(label, font),
               top + (row_h - _line_height(font)) / 2, label, font, ink)
    if row == 1 and header_fill is not None:
        draw.rectangle((num_w, top, lefts[-1] + widths[-1], top + row_h), fill=header_fill)
    elif band is not None:
        draw.rectangle((num_w, top, lefts[-1] + widths[-1], top + row_h), fill=band)
    ty = top + (row_h - _line_height(font)) / 2
    for x, cw, kind in zip(lefts, widths, kinds, strict=True):
        if row == 1:
            fill = _on(header_fill) if header_fill is not None else ink
            bold = font.styled("bold")
            _draw_text(draw, x + 3, ty, _fit(_title(rng, 1, 2), bold, cw - 6), bold, fill)
            continue
        if _chance(rng, 0.08):
            continue  # empty cell
        value = _cell_value(rng, kind)
        colour = (200, 30, 30) if value.startswith("-") and _chance(rng, 0.5) else ink
        if _chance(rng, 0.04):
            draw.rectangle((x + 1, top + 1, x + cw - 1, top + row_h - 1),
                           fill=_pick(rng, ((198, 239, 206), (255, 199, 206), (255, 235, 156))))
            colour = (20, 20, 20)
        value = _fit(value, font, cw - 6) if kind == 0 else value
        width = _text_width(value, font)
        if width > cw - 6:  # a number too wide for its column shows as ###, as in Excel
            value = "#" * max(1, int((cw - 6) / _text_width("#", font)))
            width = _text_width(value, font)
        _draw_text(draw, x + 3 if kind == 0 else x + cw - 3 - width, ty, value, font, colour)


def _sheet_selection(draw: ImageDraw.ImageDraw, rng: np.random.Generator, y: int, row_h: int,
                     lefts: list[int], widths: list[int], h: int) -> None:
    """The thick border of the selected cell or range."""
    col = _ri(rng, 0, len(lefts) - 1)
    span = _ri(rng, 1, 3) if _chance(rng, 0.3) else 1
    top = y + row_h * _ri(rng, 0, max(0, (h - y) // row_h - 2))
    right = lefts[min(len(lefts) - 1, col + span - 1)] + widths[min(len(lefts) - 1, col + span - 1)]
    colour = _pick(rng, ((16, 124, 65), (26, 115, 232)))
    draw.rectangle((lefts[col] - 1, top - 1, right + 1, top + row_h * span + 1), outline=colour,
                   width=2)
