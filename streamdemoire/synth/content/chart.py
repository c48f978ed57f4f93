"""The ``"chart"`` kind: charts and dashboards (slides and web pages reuse their panels)."""

import numpy as np
from PIL import Image, ImageDraw

from .canvas import RGB, Box, _Draw
from .colour import _mix, _palette, _Theme, _theme
from .sampling import _chance, _log_int, _pick, _ri, _ru
from .text import _draw_text, _fit, _Font, _line_height, _text_width, _title


def _render_chart(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """One chart or a dashboard of charts: line, bar, scatter, area or pie, with axes, ticks,
    grid lines, thin series lines and legends. Often drawn at 2x and reduced (anti-aliased)."""
    ss = 2 if _chance(rng, 0.5) else 1
    theme = _theme(rng, dark=_chance(rng, 0.25))
    img = Image.new("RGB", (w * ss, h * ss), theme.bg)
    draw = _Draw(img)
    rows, cols = _pick(rng, ((1, 1), (1, 1), (1, 2), (2, 1), (2, 2), (2, 3)))
    rows, cols = min(rows, max(1, h // 160)), min(cols, max(1, w // 160))
    font = _Font(_pick(rng, ("sans", "condensed", "serif")), _log_int(rng, 7, 14) * ss,
                 aliased=ss == 1 and _chance(rng, 0.2))
    cell_w, cell_h = w * ss / cols, h * ss / rows
    for r in range(rows):
        for c in range(cols):
            box = (round(c * cell_w), round(r * cell_h), round((c + 1) * cell_w),
                   round((r + 1) * cell_h))
            if rows * cols > 1:
                inset = font.size // 2
                box = (box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset)
                draw.rounded_rectangle(box, radius=font.size // 2, fill=theme.surface)
            _chart_panel(draw, rng, box, theme, font, ss)
    return img.reduce(ss) if ss > 1 else img


def _chart_panel(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, theme: _Theme,
                 font: _Font, ss: int) -> None:
    """A titled chart inside a box: pie, or axes with plotted series and a legend."""
    x0, y0, x1, y1 = box
    pad = font.size
    title = font.sized(font.size * _ru(rng, 1.1, 1.6)).styled("bold")
    _draw_text(draw, x0 + pad, y0 + pad // 2, _fit(_title(rng, 2, 5), title, x1 - x0 - 2 * pad),
               title, theme.text)
    top = y0 + pad + _line_height(title)
    n_series = _ri(rng, 1, 4)
    colours = _palette(rng, n_series if _chance(rng, 0.7) else 6)
    names = [_title(rng, 1, 2) for _ in colours]
    legend_top = y1 - round(_line_height(font) * 1.8)
    _chart_legend(draw, (x0 + pad, legend_top, x1 - pad, y1), names, colours, font, theme)
    plot = (x0 + pad, top, x1 - pad, legend_top - pad // 2)
    kind = _pick(rng, ("line", "line", "bar", "scatter", "area", "pie"))
    if kind == "pie":
        _chart_pie(draw, rng, plot, colours, theme)
        return
    axes = _chart_axes(draw, rng, plot, theme, font, ss)
    if kind == "bar":
        _chart_bars(draw, axes, rng.uniform(0.05, 1.0, (n_series, _ri(rng, 3, 12))), colours)
    else:
        walks = rng.normal(0.0, 1.0, (n_series, _ri(rng, 4, 60))).cumsum(axis=1)
        walks -= walks.min()
        _chart_series(draw, rng, axes, walks / max(float(walks.max()), 1e-6), colours, kind, ss)


def _chart_axes(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, theme: _Theme,
                font: _Font, ss: int) -> Box:
    """Y ticks with labels, horizontal grid lines, x ticks and axis lines; returns the plot area."""
    x0, y0, x1, y1 = box
    exponent = _ri(rng, -2, 5)
    step = 10.0 ** exponent * _pick(rng, (1, 2, 2.5, 5))
    ticks = _ri(rng, 3, 7)
    decimals = max(0, -exponent + (1 if step % 10 ** exponent else 0))
    unit = _pick(rng, ("", "", "", "%", "k", " ms")) if exponent >= 0 else ""
    labels = [f"{step * i:,.{decimals}f}{unit}" for i in range(ticks + 1)]
    label_w = max(_text_width(s, font) for s in labels)
    left, bottom = round(x0 + label_w + font.size), round(y1 - _line_height(font) * 1.6)
    grid = _mix(theme.bg, theme.line, 0.7)
    dashed = _chance(rng, 0.3)
    for i, label in enumerate(labels):
        y = bottom - (bottom - y0) * i / ticks
        if dashed:
            for x in range(left, x1, 6 * ss):
                draw.line((x, y, x + 2 * ss, y), fill=grid, width=ss)
        else:
            draw.line((left, y, x1, y), fill=grid, width=ss)
        _draw_text(draw, left - font.size // 2 - _text_width(label, font),
                   y - _line_height(font) / 2, label, font, theme.muted)
    x_labels = _axis_labels(rng, _ri(rng, 3, 12))
    room = max(_text_width(label, font) for label in x_labels) + font.size
    n_x = max(1, min(len(x_labels), int((x1 - left) / room)))
    for i, label in enumerate(x_labels[:n_x]):
        x = left + (x1 - left) * (i + 0.5) / n_x
        _draw_text(draw, x - _text_width(label, font) / 2, bottom + font.size // 3, label, font,
                   theme.muted)
        draw.line((x, bottom, x, bottom + font.size // 3), fill=theme.muted, width=ss)
    draw.line((left, bottom, x1, bottom), fill=theme.muted, width=ss)
    if _chance(rng, 0.5):
        draw.line((left, y0, left, bottom), fill=theme.muted, width=ss)
    return left, y0, x1, bottom


def _axis_labels(rng: np.random.Generator, n: int) -> list[str]:
    """Consecutive category labels: months, quarters, years, weekdays or numbers."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    start, kind = _ri(rng, 0, 20), int(rng.integers(5))
    if kind == 0:
        return [months[(start + i) % 12] for i in range(n)]
    if kind == 1:
        return [f"Q{(start + i) % 4 + 1} {2015 + (start + i) // 4}" for i in range(n)]
    if kind == 2:
        return [str(2000 + start + i) for i in range(n)]
    if kind == 3:
        return [days[(start + i) % 7] for i in range(n)]
    return [str(start * 10 + i * 10) for i in range(n)]


def _chart_series(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box,
                  values: np.ndarray, colours: list[RGB], kind: str, ss: int) -> None:
    """Line, area or scatter series with thin strokes and optional markers."""
    x0, y0, x1, y1 = box
    n = values.shape[1]
    xs = x0 + (x1 - x0) * (np.arange(n) + 0.5) / n
    width = max(1, ss * _ri(rng, 1, 3)) if _chance(rng, 0.7) else 1
    marker = _ri(rng, 1, 3) * ss if _chance(rng, 0.4) else 0
    for series, colour in zip(values, colours, strict=False):
        ys = y1 - (y1 - y0) * series * 0.95
        points = list(zip(xs.tolist(), ys.tolist(), strict=True))
        if kind == "area":
            draw.polygon(points + [(xs[-1], y1), (xs[0], y1)],
                         fill=_mix(colour, (255, 255, 255), 0.6))
        if kind == "scatter":
            r = max(1, ss * _ri(rng, 1, 3))
            for x, y in points:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
            continue
        draw.line(points, fill=colour, width=width, joint="curve")
        for x, y in points if marker else []:
            draw.ellipse((x - marker, y - marker, x + marker, y + marker), fill=colour)


def _chart_bars(draw: ImageDraw.ImageDraw, box: Box, values: np.ndarray,
                colours: list[RGB]) -> None:
    """Grouped vertical bars."""
    x0, y0, x1, y1 = box
    n_series, n = values.shape
    group = (x1 - x0) / n
    bar = group * 0.8 / n_series
    for s, (series, colour) in enumerate(zip(values, colours, strict=False)):
        for i, v in enumerate(series):
            x = x0 + group * (i + 0.1) + bar * s
            draw.rectangle((round(x), round(y1 - (y1 - y0) * v * 0.95), round(x + bar) - 1, y1),
                           fill=colour)


def _chart_pie(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, colours: list[RGB],
               theme: _Theme) -> None:
    """A pie or doughnut with white separators."""
    x0, y0, x1, y1 = box
    r = max(2, min(x1 - x0, y1 - y0) // 2 - 2)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    shares = rng.dirichlet(np.ones(len(colours))) * 360
    start = _ru(rng, 0, 360)
    ring = (cx - r, cy - r, cx + r, cy + r)
    for share, colour in zip(shares, colours, strict=True):
        draw.pieslice(ring, start, start + share, fill=colour, outline=theme.bg)
        start += share
    if _chance(rng, 0.4):
        hole = round(r * _ru(rng, 0.4, 0.7))
        draw.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=theme.bg)


def _chart_legend(draw: ImageDraw.ImageDraw, box: Box, names: list[str], colours: list[RGB],
                  font: _Font, theme: _Theme) -> None:
    """Colour swatches with series names in a row."""
    x, y0, x1, _ = box
    swatch = max(3, font.size * 2 // 3)
    for name, colour in zip(names, colours, strict=True):
        if x + swatch + _text_width(name, font) > x1:
            break
        draw.rectangle((x, y0 + font.size // 4, x + swatch, y0 + font.size // 4 + swatch),
                       fill=colour)
        x += swatch + font.size // 2
        x += round(_draw_text(draw, x, y0, name, font, theme.muted)) + font.size
