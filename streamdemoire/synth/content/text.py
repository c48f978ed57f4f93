"""Words and text. Words are generated, never fetched: glyph shapes matter for moiré,
not meaning. FreeType rasterises every glyph on every call (~6 µs each) and a page
holds thousands, so each word is rendered once per process and then stamped as a
bitmap."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .canvas import RGB, Box
from .sampling import _chance, _pick, _ri

_WORDS: tuple[str, ...] = tuple(
    """
    the of and to in is for on with as by at from that this be are was it an or not have has
    data model system user value result time report sales total team project update page file
    error number list table chart image video screen camera display light color signal frame
    network server client request response query index cache memory process thread queue
    market growth revenue quarter budget plan review design build test deploy release version
    customer product service support account order price cost profit share target goal status
    meeting agenda summary overview analysis method approach research study paper section
    figure example problem solution question answer option feature setting profile message
    people world city country history science music travel health energy water food nature
    first second third last next new old high low large small fast slow simple complex open
    close start stop read write send receive create delete search filter sort group select
    north south east west morning evening today week month year daily weekly annual average
    however therefore because although while during before after between within without
    important different available possible current general special public private global
    local internal external primary secondary final initial standard custom default manual
    """.split()
)

_SYLLABLES: tuple[str, ...] = (
    "ka", "to", "ri", "men", "sul", "dor", "ex", "an", "vel", "pri", "no", "sta", "tion", "ing",
    "er", "ou", "ble", "qui", "zy", "gra", "lo", "mi", "ter", "con", "de", "pro", "ver", "al",
    "is", "bra", "fu", "hep", "jo", "wix", "ly", "sch", "ght", "ea", "ph", "rk",
)


@functools.cache
def _vocabulary() -> tuple[str, ...]:
    """Real words plus pseudo-words, so letter combinations go beyond a short list."""
    rng = np.random.default_rng(7)  # fixed: the vocabulary is part of the module, not a sample
    pseudo = {
        "".join(_pick(rng, _SYLLABLES) for _ in range(_ri(rng, 1, 4))) for _ in range(700)
    }
    return _WORDS + tuple(sorted(pseudo))


def _prose(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` words of sentence-like text: capitals, commas, full stops and the odd number."""
    vocab = _vocabulary()
    picks = rng.integers(len(vocab), size=n)
    decor = rng.random(n)
    sentence_left = 0
    words = []
    for index, roll in zip(picks, decor, strict=True):
        word = vocab[index]
        if roll < 0.03:
            word = str(_ri(rng, 0, 3000)) if roll < 0.02 else f"{_ri(rng, 0, 99)}.{_ri(rng, 0, 9)}%"
        if sentence_left == 0:
            word = word.capitalize()
            sentence_left = _ri(rng, 5, 18)
        sentence_left -= 1
        if sentence_left == 0:
            word += "." if roll > 0.1 else _pick(rng, ("?", "!", ":"))
        elif roll > 0.93:
            word += ","
        words.append(word)
    if words and sentence_left:
        words[-1] = words[-1].rstrip(",") + "."
    return words


def _title(rng: np.random.Generator, lo: int, hi: int) -> str:
    """A short title-cased phrase for headings, tabs and labels."""
    vocab = _vocabulary()
    return " ".join(vocab[i].capitalize() for i in rng.integers(len(vocab), size=_ri(rng, lo, hi)))


_KEYWORDS = frozenset(
    "and as break class const def else for from if import in is let not or return var while "
    "with".split()
)


@functools.cache
def _name_parts() -> tuple[str, ...]:
    """Words that may appear in identifiers: the word list minus language keywords."""
    return tuple(word for word in _WORDS if word not in _KEYWORDS)


def _identifier(rng: np.random.Generator) -> str:
    """A code identifier in snake_case or camelCase."""
    words = _name_parts()
    parts = [words[i] for i in rng.integers(len(words), size=_ri(rng, 1, 3))]
    if _chance(rng, 0.5):
        return "_".join(parts)
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
_FONT_FILES: dict[tuple[str, str], str] = {
    ("sans", "regular"): "DejaVuSans.ttf",
    ("sans", "bold"): "DejaVuSans-Bold.ttf",
    ("sans", "italic"): "DejaVuSans-Oblique.ttf",
    ("serif", "regular"): "DejaVuSerif.ttf",
    ("serif", "bold"): "DejaVuSerif-Bold.ttf",
    ("serif", "italic"): "DejaVuSerif-Italic.ttf",
    ("mono", "regular"): "DejaVuSansMono.ttf",
    ("mono", "bold"): "DejaVuSansMono-Bold.ttf",
    ("mono", "italic"): "DejaVuSansMono-Oblique.ttf",
    ("condensed", "regular"): "DejaVuSansCondensed.ttf",
    ("condensed", "bold"): "DejaVuSansCondensed-Bold.ttf",
    ("condensed", "italic"): "DejaVuSansCondensed-Oblique.ttf",
}
_FAMILIES = ("sans", "serif", "mono", "condensed")
_SIZE_LADDER = (14, 16, 18, 20, 22, 24, 26, 28, 32, 36, 40, 44, 48, 54, 60, 66, 72, 80, 88, 96,
                108, 120, 132, 144, 160)

PilFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


class _Font(NamedTuple):
    """A text style: family, pixel size, style and whether glyph edges are anti-aliased.
    (A tuple: it keys the glyph caches, and tuples hash fast.)"""

    family: str = "sans"
    size: int = 12
    style: str = "regular"
    aliased: bool = False

    def sized(self, size: float) -> "_Font":
        """The same style at another size: at least 6 px (below that glyphs are noise), and
        large sizes snapped to a ladder, as apps offer, so glyph caches stay warm."""
        size = max(6, round(size))
        if size > _SIZE_LADDER[0]:
            size = min(_SIZE_LADDER, key=lambda step: abs(step - size))
        return _Font(self.family, size, self.style, self.aliased)

    def styled(self, style: str) -> "_Font":
        """The same font in another style (regular, bold, italic)."""
        return _Font(self.family, self.size, style, self.aliased)


@functools.cache
def _font_path(family: str, style: str) -> Path | None:
    """The DejaVu file for a family and style, or None where the fonts are not installed."""
    name = _FONT_FILES[(family, style)]
    return next((d / name for d in _FONT_DIRS if (d / name).is_file()), None)


@functools.lru_cache(maxsize=512)
def _pil_font(family: str, style: str, size: int) -> PilFont:
    """A loaded font; PIL's built-in one where DejaVu is missing (a bare CI machine)."""
    path = _font_path(family, style)
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(path), size)


@functools.lru_cache(maxsize=200_000)
def _glyph(font: _Font, char: str) -> tuple[np.ndarray | None, int, int, float]:
    """One character's mask, its offset from the pen position and its advance. Rendering
    through PIL costs ~100 µs a call, so each glyph of each font is rendered once."""
    pil = _pil_font(font.family, font.style, font.size)
    advance = float(pil.getlength(char))
    left, top, right, bottom = pil.getbbox(char)
    if right <= left or bottom <= top:
        return None, 0, 0, advance
    mask = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(mask)
    draw.fontmode = "1" if font.aliased else "L"
    draw.text((-left, -top), char, font=pil, fill=255)
    return np.asarray(mask), int(left), int(top), advance


@functools.lru_cache(maxsize=100_000)
def _word_bitmap(font: _Font, word: str) -> tuple[Image.Image | None, int, int, float]:
    """A word's mask (its cached glyphs side by side on whole pixels, as hinted screen text
    is), the mask's offset from the pen position and the word's advance width."""
    pen = 0.0
    inked = []
    for char in word:
        mask, left, top, advance = _glyph(font, char)
        if mask is not None:
            inked.append((round(pen) + left, top, mask))
        pen += advance
    if not inked:
        return None, 0, 0, pen
    x0, y0 = min(x for x, _, _ in inked), min(y for _, y, _ in inked)
    x1 = max(x + m.shape[1] for x, _, m in inked)
    y1 = max(y + m.shape[0] for _, y, m in inked)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for x, y, mask in inked:
        region = canvas[y - y0:y - y0 + mask.shape[0], x - x0:x - x0 + mask.shape[1]]
        np.maximum(region, mask, out=region)
    return Image.fromarray(canvas), x0, y0, pen


@functools.lru_cache(maxsize=2048)
def _line_height(font: _Font) -> int:
    """Height from the top of capitals/ascenders to the bottom of descenders."""
    return max(1, int(_pil_font(font.family, font.style, font.size).getbbox("ÅgjyQ|")[3]))


@functools.lru_cache(maxsize=2048)
def _space_width(font: _Font) -> float:
    """Advance of one space (also the column width of a monospace font)."""
    return _glyph(font, " ")[3]


def _draw_word(draw: ImageDraw.ImageDraw, x: float, y: float, word: str, font: _Font,
               fill: RGB) -> float:
    """Stamp one cached word with its top-left pen position at (x, y); return its advance."""
    mask, left, top, advance = _word_bitmap(font, word)
    if mask is not None:
        draw.bitmap((round(x) + left, round(y) + top), mask, fill=fill)
    return advance


def _text_width(text: str, font: _Font) -> float:
    """Width of a one-line string as :func:`_draw_text` sets it (glyph advances, no kerning);
    measured from cached glyphs so that measuring never renders a word."""
    return sum(_glyph(font, char)[3] for char in text)


def _fit(text: str, font: _Font, width: float) -> str:
    """The longest prefix of ``text`` that fits ``width``: apps clip labels at their cell,
    column or panel edge instead of letting them run into the neighbour."""
    full = _text_width(text, font)
    if full <= width:
        return text
    n = int(len(text) * max(width, 0.0) / full) + 1
    while n > 0 and _text_width(text[:n], font) > width:
        n -= 1
    return text[:n].rstrip()


def _draw_text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, font: _Font,
               fill: RGB) -> float:
    """Draw a one-line string word by word (each word cached); return its width."""
    space = _space_width(font)
    cursor = x
    for i, word in enumerate(text.split(" ")):
        if i:
            cursor += space
        if word:
            cursor += _draw_word(draw, cursor, y, word, font, fill)
    return cursor - x


def _draw_centred(draw: ImageDraw.ImageDraw, box: Box, text: str, font: _Font, fill: RGB) -> None:
    """Draw one line of text centred in a box (button labels, box captions)."""
    x0, y0, x1, y1 = box
    width = _text_width(text, font)
    _draw_text(draw, (x0 + x1 - width) / 2, (y0 + y1 - _line_height(font)) / 2, text, font, fill)


def _wrap(words: Sequence[str], font: _Font, width: float, indent: float = 0.0) -> list[list[str]]:
    """Greedy line breaking by measured word widths (a word wider than a line gets its own);
    ``indent`` shortens the first line."""
    space = _space_width(font)
    lines: list[list[str]] = [[]]
    used = indent
    for word in words:
        advance = _text_width(word, font)
        if lines[-1] and used + space + advance > width:
            lines.append([])
            used = 0.0
        used += advance + (space if lines[-1] else 0.0)
        lines[-1].append(word)
    return [line for line in lines if line]


@dataclass(frozen=True)
class _Paragraph:
    """How to set a block of text: font, colours, leading and alignment."""

    font: _Font
    fill: RGB
    leading: float = 1.35
    justify: bool = False
    link: RGB | None = None  # colour of underlined link runs; None for plain text
    indent: int = 0  # first-line indent in pixels


def _draw_paragraph(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box,
                    words: Sequence[str], style: _Paragraph) -> int:
    """Set words into a box, top-down, until they or the box run out; return the next y."""
    x0, y, x1, y1 = box
    font = style.font
    step = max(1, round(_line_height(font) * style.leading))
    space = _space_width(font)
    lines = _wrap(words, font, x1 - x0, style.indent)
    link_left = 0
    for n, line in enumerate(lines):
        if y + _line_height(font) > y1:
            break
        start = x0 + (style.indent if n == 0 else 0)
        gap = space
        if style.justify and n < len(lines) - 1 and len(line) > 1:
            natural = sum(_text_width(w, font) for w in line)
            gap = max(space, (x1 - start - natural) / (len(line) - 1))
        x = float(start)
        for word in line:
            if style.link is not None and link_left == 0 and _chance(rng, 0.04):
                link_left = _ri(rng, 1, 4)
            colour = style.link if link_left and style.link is not None else style.fill
            advance = _draw_word(draw, x, y, word, font, colour)
            if link_left:
                underline = y + _line_height(font) - max(1, font.size // 8)
                draw.line((x, underline, x + advance, underline), fill=colour)
                link_left -= 1
            x += advance + gap
        y += step
    return y
