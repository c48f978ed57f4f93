"""The ``"code"`` kind: code editors (web pages reuse their listings)."""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .canvas import RGB, Box, _Draw
from .colour import _on, _palette, _shift
from .sampling import _chance, _log_int, _pick, _ri, _ru
from .text import (
    _draw_text,
    _draw_word,
    _fit,
    _Font,
    _identifier,
    _line_height,
    _prose,
    _space_width,
    _text_width,
)


@dataclass(frozen=True)
class _CodeTheme:
    """Editor colours, one per syntax role."""

    bg: RGB
    fg: RGB
    kw: RGB
    str: RGB
    num: RGB
    com: RGB
    fn: RGB
    gutter: RGB
    highlight: RGB


_CODE_THEMES: tuple[_CodeTheme, ...] = (
    _CodeTheme((30, 30, 30), (212, 212, 212), (86, 156, 214), (206, 145, 120), (181, 206, 168),
               (106, 153, 85), (220, 220, 170), (133, 133, 133), (42, 45, 46)),  # VS Code dark
    _CodeTheme((39, 40, 34), (248, 248, 242), (249, 38, 114), (230, 219, 116), (174, 129, 255),
               (117, 113, 94), (166, 226, 46), (144, 144, 138), (62, 61, 50)),  # Monokai
    _CodeTheme((0, 43, 54), (131, 148, 150), (133, 153, 0), (42, 161, 152), (211, 54, 130),
               (88, 110, 117), (38, 139, 210), (88, 110, 117), (7, 54, 66)),  # Solarized dark
    _CodeTheme((40, 44, 52), (171, 178, 191), (198, 120, 221), (152, 195, 121), (209, 154, 102),
               (92, 99, 112), (97, 175, 239), (76, 82, 99), (44, 49, 58)),  # One Dark
    _CodeTheme((40, 42, 54), (248, 248, 242), (255, 121, 198), (241, 250, 140), (189, 147, 249),
               (98, 114, 164), (80, 250, 123), (98, 114, 164), (68, 71, 90)),  # Dracula
    _CodeTheme((255, 255, 255), (36, 41, 46), (215, 58, 73), (3, 47, 98), (0, 92, 197),
               (106, 115, 125), (111, 66, 193), (27, 31, 35), (246, 248, 250)),  # GitHub light
    _CodeTheme((253, 246, 227), (101, 123, 131), (133, 153, 0), (42, 161, 152), (211, 54, 130),
               (147, 161, 161), (38, 139, 210), (147, 161, 161), (238, 232, 213)),  # Solarized
    _CodeTheme((255, 255, 255), (0, 0, 0), (0, 0, 160), (0, 128, 0), (0, 0, 255),
               (128, 128, 128), (0, 0, 0), (150, 150, 150), (255, 255, 215)),  # classic IDE
)

Segment = tuple[str, str]  # (text, syntax role: fg, kw, str, num, com, fn)


def _code_value(rng: np.random.Generator, depth: int = 0) -> list[Segment]:
    """An expression: name, number, string, call or binary operation."""
    roll = rng.random()
    if roll < 0.3:
        return [(_identifier(rng), "fg")]
    if roll < 0.45:
        return [(str(_ri(rng, 0, 1024)) if _chance(rng, 0.7) else f"{_ru(rng, 0, 10):.2f}", "num")]
    if roll < 0.6:
        quote = _pick(rng, ('"', "'"))
        return [(quote + " ".join(_prose(rng, _ri(rng, 1, 4))).lower() + quote, "str")]
    if roll < 0.85 and depth < 2:
        return _code_call(rng, depth)
    op = _pick(rng, (" + ", " - ", " * ", " / ", " == ", " < ", " and ", " % "))
    return [(_identifier(rng), "fg"), (op, "fg")] + _code_value(rng, depth + 1)


def _code_call(rng: np.random.Generator, depth: int) -> list[Segment]:
    """A function call with zero to three arguments."""
    call: list[Segment] = [(_identifier(rng), "fn"), ("(", "fg")]
    for i in range(_ri(rng, 0, 3)):
        call += ([(", ", "fg")] if i else []) + _code_value(rng, depth + 1)
    return call + [(")", "fg")]


def _code_header(rng: np.random.Generator, python: bool) -> list[Segment]:
    """A line that opens a block: function, class, if, for, while."""
    kind = int(rng.integers(5))
    name, arg = _identifier(rng), _identifier(rng)
    if python:
        heads: list[list[Segment]] = [
            [("def ", "kw"), (name, "fn"), (f"(self, {arg}):", "fg")],
            [("class ", "kw"), (name.title().replace("_", ""), "fn"), (":", "fg")],
            [("if ", "kw"), *_code_value(rng), (":", "fg")],
            [("for ", "kw"), (arg, "fg"), (" in ", "kw"), *_code_value(rng), (":", "fg")],
            [("with ", "kw"), *_code_value(rng), (" as ", "kw"), (arg, "fg"), (":", "fg")],
        ]
    else:
        heads = [
            [(_pick(rng, ("function ", "void ", "int ", "async function ")), "kw"), (name, "fn"),
             (f"({arg}) {{", "fg")],
            [("class ", "kw"), (name.title().replace("_", ""), "fn"), (" {", "fg")],
            [("if ", "kw"), ("(", "fg"), *_code_value(rng), (") {", "fg")],
            [("for ", "kw"), (f"(let {arg} = ", "fg"), ("0", "num"), (f"; {arg} < n; {arg}++) {{",
                                                                        "fg")],
            [("while ", "kw"), ("(", "fg"), *_code_value(rng), (") {", "fg")],
        ]
    return heads[kind]


def _code_statement(rng: np.random.Generator, python: bool) -> list[Segment]:
    """A simple statement: assignment, call or return."""
    end: list[Segment] = [] if python else [(";", "fg")]
    roll = rng.random()
    if roll < 0.5:
        decl: list[Segment] = [] if python else [(_pick(rng, ("const ", "let ", "var ")), "kw")]
        return decl + [(_identifier(rng), "fg"), (" = ", "fg"), *_code_value(rng), *end]
    if roll < 0.8:
        target = _pick(rng, ("self." if python else "this.", _identifier(rng) + "."))
        return [(target, "fg")] + _code_call(rng, 1) + end
    return [("return ", "kw"), *_code_value(rng), *end]


def _code_lines(rng: np.random.Generator, n: int) -> list[tuple[int, list[Segment]]]:
    """``n`` lines of plausible Python or C-family code as (indent level, segments)."""
    python = _chance(rng, 0.5)
    comment = "# " if python else "// "
    lines: list[tuple[int, list[Segment]]] = []
    indent = 0
    while len(lines) < n:
        roll = rng.random()
        if roll < 0.08:
            lines.append((0, []))
        elif roll < 0.18:
            lines.append((indent, [(comment + " ".join(_prose(rng, _ri(rng, 2, 10))), "com")]))
        elif roll < 0.3 and indent < 4:
            lines.append((indent, _code_header(rng, python)))
            indent += 1
        elif roll < 0.4 and indent > 0:
            indent -= 1
            if not python:
                lines.append((indent, [("}", "fg")]))
        else:
            lines.append((indent, _code_statement(rng, python)))
    return lines


def _render_code(rng: np.random.Generator, h: int, w: int, chrome: bool = True) -> Image.Image:
    """A code editor: monospace text in syntax colours, line numbers, current-line highlight,
    and (with ``chrome``) tabs, a file tree and a status bar. Dark and light themes."""
    theme = _pick(rng, _CODE_THEMES)
    font = _Font("mono", _log_int(rng, 7, 20), aliased=_chance(rng, 0.25))
    img = Image.new("RGB", (w, h), theme.bg)
    draw = _Draw(img)
    top, bottom, left = 0, h, 0
    small = _Font("sans", max(7, font.size - _ri(rng, 0, 3)), aliased=font.aliased)
    if chrome and _chance(rng, 0.7):
        top = _code_tabs(draw, rng, w, theme, small)
    if chrome and _chance(rng, 0.6):
        bottom = _code_status_bar(draw, rng, w, h, theme, small)
    if _chance(rng, 0.4) and w > 200:
        left = _code_file_tree(draw, rng, (0, top, round(w * _ru(rng, 0.12, 0.28)), bottom),
                               theme, small)
    _code_body(draw, rng, (left, top, w, bottom), theme, font)
    return img


def _code_body(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box, theme: _CodeTheme,
               font: _Font) -> None:
    """Line numbers, the highlighted current line and the syntax-coloured code itself."""
    x0, y0, x1, y1 = box
    col = _space_width(font)
    step = max(1, round(_line_height(font) * _ru(rng, 1.1, 1.5)))
    count = max(1, (y1 - y0) // step + 1)
    first = 1 if _chance(rng, 0.4) else _ri(rng, 2, 900)
    digits = len(str(first + count))
    text_x = x0 + col * (digits + 3)
    current = _ri(rng, 0, count - 1)
    draw.rectangle((x0, y0 + current * step, x1, y0 + (current + 1) * step - 1),
                   fill=theme.highlight)
    colours = {"fg": theme.fg, "kw": theme.kw, "str": theme.str, "num": theme.num,
               "com": theme.com, "fn": theme.fn}
    bold_keywords = _chance(rng, 0.3)
    for i, (indent, segments) in enumerate(_code_lines(rng, count)):
        y = y0 + i * step
        number = str(first + i)
        _draw_text(draw, x0 + col * (digits + 1 - len(number)), y, number, font,
                   theme.fg if i == current else theme.gutter)
        column = indent * 4
        for text, role in segments:
            seg_font = font.styled("bold") if role == "kw" and bold_keywords else font
            _draw_code_segment(draw, text_x + column * col, y, text, seg_font, colours[role])
            column += len(text)
        if indent and _chance(rng, 0.5):
            for level in range(indent):
                gx = round(text_x + level * 4 * col + col / 2)
                draw.line((gx, y, gx, y + step - 1), fill=theme.highlight)


def _draw_code_segment(draw: ImageDraw.ImageDraw, x: float, y: int, text: str, font: _Font,
                       fill: RGB) -> None:
    """Draw monospace text by columns, so spacing matches character counts exactly."""
    col = _space_width(font)
    offset = 0
    for word in text.split(" "):
        if word:
            _draw_word(draw, x + offset * col, y, word, font, fill)
        offset += len(word) + 1


def _code_tabs(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, theme: _CodeTheme,
               font: _Font) -> int:
    """A row of file tabs, the active one in the editor colour; returns its height."""
    tab_h = round(_line_height(font) * 2.2)
    strip = _shift(theme.bg, -12 if sum(theme.bg) > 380 else 12)
    draw.rectangle((0, 0, w, tab_h - 1), fill=strip)
    x = 0
    active = _ri(rng, 0, 3)
    for i in range(_ri(rng, 1, 6)):
        name = _identifier(rng) + _pick(rng, (".py", ".ts", ".js", ".rs", ".go", ".cpp", ".md"))
        tab_w = round(_text_width(name, font) + font.size * 4)
        if i == active:
            draw.rectangle((x, 0, x + tab_w, tab_h - 1), fill=theme.bg)
        draw.line((x + tab_w, 0, x + tab_w, tab_h - 1), fill=theme.highlight)
        colour = theme.fg if i == active else theme.gutter
        _draw_text(draw, x + font.size, (tab_h - _line_height(font)) / 2, name, font, colour)
        _draw_text(draw, x + tab_w - font.size * 1.5, (tab_h - _line_height(font)) / 2, "×", font,
                   theme.gutter)
        x += tab_w + 1
    return tab_h


def _code_status_bar(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int,
                     theme: _CodeTheme, font: _Font) -> int:
    """A coloured status bar with position, encoding and language; returns its top."""
    bar_h = round(_line_height(font) * 1.6)
    colour = _pick(rng, ((0, 122, 204), (104, 33, 122), theme.highlight, (22, 130, 93)))
    draw.rectangle((0, h - bar_h, w, h), fill=colour)
    items = [f"Ln {_ri(rng, 1, 999)}, Col {_ri(rng, 1, 80)}", "UTF-8", "LF",
             _pick(rng, ("Python", "TypeScript", "Rust", "C++", "Go")), _identifier(rng)]
    x = w - font.size
    y = h - bar_h + (bar_h - _line_height(font)) / 2
    for item in items:
        x -= _text_width(item, font) + font.size * 1.5
        _draw_text(draw, x, y, item, font, _on(colour))
    return h - bar_h


def _code_file_tree(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box,
                    theme: _CodeTheme, font: _Font) -> int:
    """An explorer side panel: folders and files with small icons; returns its right edge."""
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=_shift(theme.bg, -8 if sum(theme.bg) > 380 else 8))
    step = round(_line_height(font) * 1.6)
    y = y0 + step // 2
    _draw_text(draw, x0 + font.size, y, "EXPLORER", font.styled("bold"), theme.gutter)
    depth = 0
    palette = _palette(rng, 6)
    while y + step < y1:
        y += step
        folder = _chance(rng, 0.25)
        x = x0 + font.size * (1 + depth)
        icon = max(3, font.size * 2 // 3)
        colour = (220, 180, 80) if folder else _pick(rng, palette)
        draw.rectangle((x, y + 2, x + icon, y + 2 + icon), fill=colour)
        name = _identifier(rng) + ("" if folder else _pick(rng, (".py", ".json", ".ts", ".md")))
        _draw_text(draw, x + icon * 1.6, y, _fit(name, font, x1 - x - icon * 2), font, theme.fg)
        depth = min(depth + 1, 4) if folder else max(0, depth - (1 if _chance(rng, 0.2) else 0))
    return x1
