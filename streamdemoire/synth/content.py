"""What a screen shows: clean ground-truth images at display-pixel resolution.

The moiré simulator films these images through a virtual display and camera, and a model learns
to undo the damage. That model must then work on phone photos of *real* screens, so the content
imitates what people point cameras at: slides, code editors, web pages, spreadsheets, charts,
desktop UI, plain documents and photos. Fine detail matters most (tiny text, hairlines, grid
lines): it is where moiré lives and what a demoiré model is tempted to smear, so text sizes go
down to 7 px and glyphs are drawn both anti-aliased and aliased.

Every random choice is drawn from the caller's ``np.random.Generator``, so one generator state
reproduces one image exactly. Rendering sits on the training data path, so it is kept cheap:
fonts, rendered words and scikit-image's bundled photos are cached per process on first use.

Public API: :data:`CONTENT_KINDS`, :func:`render_content`, :func:`render_scroll_strip`.
"""

import colorsys
import functools
import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CONTENT_KINDS: tuple[str, ...] = (
    "slides", "code", "web", "spreadsheet", "chart", "ui", "text", "photo",
)
"""The kinds :func:`render_content` draws; ``"mixed"`` is also accepted (a random kind)."""

MIXED_PHOTO_SHARE = 0.4
"""How often ``"mixed"`` picks a photo; the other kinds share the rest equally. Photos get the
largest share because natural images are the hardest to demoiré without smearing texture."""

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)
T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Small random helpers: tolerant of tiny canvases, where a range can be empty.
# --------------------------------------------------------------------------------------------


def _ri(rng: np.random.Generator, lo: float, hi: float) -> int:
    """A uniform integer in [lo, hi]; ``lo`` when the range is empty (a tiny canvas)."""
    lo, hi = int(lo), int(hi)
    return lo if hi <= lo else int(rng.integers(lo, hi + 1))


def _ru(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A uniform float in [lo, hi); ``lo`` when the range is empty."""
    return float(lo) if hi <= lo else float(rng.uniform(lo, hi))


def _chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p``."""
    return bool(rng.random() < p)


def _pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One element of a sequence (``rng.choice`` would turn tuples into arrays)."""
    return options[int(rng.integers(len(options)))]


def _log_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer log-uniform in [lo, hi]: small values (tiny text) as common as large ones."""
    return min(hi, int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))))


# --------------------------------------------------------------------------------------------
# Words: generated, never fetched. Glyph shapes matter for moiré, not meaning.
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Fonts and text. FreeType rasterises every glyph on every call (~6 µs each) and a page holds
# thousands, so each word is rendered once per process and then stamped as a bitmap.
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Colours and themes.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Photos: scikit-image's bundled images with heavy augmentation, plus procedural natural-like
# images so a model does not overfit a couple of dozen photos.
# --------------------------------------------------------------------------------------------

_COLOUR_PHOTOS = (
    "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "ihc.png", "hubble_deep_field.jpg",
    "retina.jpg", "color.png", "logo.png", "motorcycle_left.png",
)
_GREY_PHOTOS = (
    "camera.png", "coins.png", "moon.png", "horse.png", "brick.png", "grass.png", "gravel.png",
    "cell.png", "clock_motion.png", "page.png", "text.png", "phantom.png",
)
_TEXTURE_FILES = ("grass.png", "gravel.png", "brick.png", "moon.png")
_PROCEDURAL_PHOTO_SHARE = 0.35
_GREY_PHOTO_SHARE = 0.3  # screens mostly show colour photos


@functools.cache
def _skimage_image(name: str) -> np.ndarray | None:
    """A photo shipped inside the scikit-image package, read from its folder (never downloaded:
    its fetcher could reach the network); grey images stay 2-D. None if unavailable."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    try:
        with Image.open(path) as im:
            if im.mode in ("RGBA", "LA", "P"):  # logos and silhouettes: flatten onto white
                im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
            return np.asarray(im.convert("L" if im.mode == "L" else "RGB"))
    except OSError:
        return None


def _colour_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random hue, saturation, white balance, exposure and gamma in one 3x3 matrix and a LUT:
    a couple of dozen photos become thousands of looks."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    hue = rng.normal(0.0, 0.5) if _chance(rng, 0.6) else 0.0
    sat = 0.0 if _chance(rng, 0.05) else math.exp(rng.uniform(math.log(0.4), math.log(1.7)))
    cos, sin = sat * math.cos(hue), sat * math.sin(hue)
    chroma = np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    balance = np.exp(rng.normal(0.0, 0.08, 3)) * math.exp(rng.normal(0.0, 0.15))
    matrix = (np.diag(balance) @ np.linalg.inv(to_yiq) @ chroma @ to_yiq).astype(np.float32)
    out = np.clip(rgb.reshape(-1, 3).astype(np.float32) @ matrix.T, 0, 255).astype(np.uint8)
    gamma = math.exp(rng.uniform(math.log(0.7), math.log(1.4)))
    lut = np.round(255 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return lut[out].reshape(rgb.shape)


def _colourise(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grey photo as RGB: kept grey, or toned between two colours (duotone, sepia)."""
    if _chance(rng, 0.5):
        return np.repeat(grey[..., None], 3, axis=2)
    dark = np.asarray(_hsv(rng.random(), _ru(rng, 0.2, 0.9), _ru(rng, 0.0, 0.3)), np.float32)
    light = np.asarray(_hsv(rng.random(), _ru(rng, 0.0, 0.5), _ru(rng, 0.8, 1.0)), np.float32)
    lut = _to_uint8(dark + (light - dark) * (np.arange(256, dtype=np.float32) / 255)[:, None])
    return lut[grey]


def _crop_box(rng: np.random.Generator, shape: tuple[int, ...], h: int, w: int) -> Box:
    """A random source box that, resized to h x w, scales the source 0.5x-3x (more when the
    source is too small to fill h x w)."""
    scale = math.exp(rng.uniform(math.log(0.5), math.log(3.0)))
    scale = max(scale, h / shape[0], w / shape[1])
    ch = min(shape[0], max(1, math.ceil(h / scale)))
    cw = min(shape[1], max(1, math.ceil(w / scale)))
    y0, x0 = _ri(rng, 0, shape[0] - ch), _ri(rng, 0, shape[1] - cw)
    return x0, y0, x0 + cw, y0 + ch


def _photo_crop(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random crop of a bundled photo: scaled 0.5x-3x, flipped, turned by 90s, colour-jittered.
    Images load one by one on first use, so a worker pays only for those it draws."""
    names = _GREY_PHOTOS if _chance(rng, _GREY_PHOTO_SHARE) else _COLOUR_PHOTOS
    src = _skimage_image(_pick(rng, names))
    if src is None:  # scikit-image missing or trimmed
        return _procedural_photo(rng, h, w)
    turns = int(rng.integers(4))
    th, tw = (h, w) if turns % 2 == 0 else (w, h)
    box = _crop_box(rng, src.shape, th, tw)
    resample = _pick(rng, (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC,
                           Image.Resampling.LANCZOS))
    arr = np.asarray(Image.fromarray(src).resize((tw, th), resample, box=box))
    if arr.ndim == 2:
        arr = _colourise(arr, rng)
    if _chance(rng, 0.5):
        arr = arr[:, ::-1]
    if _chance(rng, 0.2):
        arr = arr[::-1]
    return _colour_jitter(np.ascontiguousarray(np.rot90(arr, turns)), rng)


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A natural-looking image: mostly real photos, about a third procedural."""
    if _chance(rng, _PROCEDURAL_PHOTO_SHARE):
        return _procedural_photo(rng, h, w)
    return _photo_crop(rng, h, w)


def _fractal_noise(rng: np.random.Generator, h: int, w: int, channels: int,
                   beta: float) -> np.ndarray:
    """Gaussian noise with a 1/f^beta power spectrum (natural images sit near beta = 2),
    as float32 (h, w, channels) with zero mean and unit spread per channel."""
    fy = np.fft.fftfreq(h).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(w).astype(np.float32)[None, :]
    freq = np.hypot(fy, fx)
    freq[0, 0] = 1.0
    amp = freq ** np.float32(-beta / 2)
    amp[0, 0] = 0.0
    shape = (channels, *amp.shape)
    spectrum = (rng.standard_normal(shape, np.float32)
                + 1j * rng.standard_normal(shape, np.float32)).astype(np.complex64) * amp
    field = np.fft.irfft2(spectrum, s=(h, w)).astype(np.float32)
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return np.moveaxis(field, 0, -1)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Clip a float image to [0, 255] and round it to uint8."""
    return np.clip(arr, 0, 255).round().astype(np.uint8)


def _noise_landscape(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A 1/f colour field with correlated channels, sometimes with sharp region edges."""
    field = _fractal_noise(rng, h, w, 3, _ru(rng, 1.9, 3.0))
    if _chance(rng, 0.4):  # sharpen into regions, like foliage against sky
        field[..., 0] = np.tanh(field[..., 0] * _ru(rng, 2.0, 8.0))
    mixing = rng.normal(0.0, 0.2, (3, 3)) + np.outer([1.0, 0.0, 0.0], rng.uniform(0.6, 1.2, 3))
    mean = np.asarray(_hsv(rng.random(), _ru(rng, 0.1, 0.6), _ru(rng, 0.3, 0.8)), np.float32)
    return _to_uint8(mean + (field @ mixing.astype(np.float32)) * _ru(rng, 25.0, 70.0))


def _soft_shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Overlapping shapes with gradients and soft or sharp edges over a gradient backdrop:
    object-like blobs with occlusion, the structure of a defocused scene."""
    img = _gradient(rng, h, w, _hsv(rng.random(), _ru(rng, 0.1, 0.6), _ru(rng, 0.2, 0.9)),
                    _hsv(rng.random(), _ru(rng, 0.1, 0.6), _ru(rng, 0.2, 0.9)))
    side = min(h, w)
    for _ in range(_ri(rng, 5, 18)):
        sh = max(2, round(side * math.exp(rng.uniform(math.log(0.05), math.log(0.7)))))
        sw = max(2, round(sh * math.exp(rng.normal(0.0, 0.4))))
        blur = 0.0 if _chance(rng, 0.3) else _ru(rng, 0.5, 0.12 * sh)
        mask = _soft_mask(rng, sw, sh, blur)
        base = _hsv(rng.random(), _ru(rng, 0.1, 0.8), _ru(rng, 0.15, 0.95))
        fill = _gradient(rng, mask.height, mask.width, base, _shift(base, _ri(rng, -90, 90)))
        img.paste(fill, (_ri(rng, -sw // 2, w - sw // 2), _ri(rng, -sh // 2, h - sh // 2)), mask)
    grain = _fractal_noise(rng, h, w, 1, _ru(rng, 0.5, 1.5)) * _ru(rng, 2.0, 12.0)
    return _to_uint8(np.asarray(img, np.float32) + grain)


def _soft_mask(rng: np.random.Generator, w: int, h: int, blur: float) -> Image.Image:
    """A random white blob on black, about w x h plus room for its edge blurred by ``blur`` px.
    Wide blurs are done small and enlarged: the same look at a fraction of the cost."""
    factor = max(1, int(blur // 2))
    margin = math.ceil(3 * blur / factor) + 1
    sw, sh = max(2, w // factor), max(2, h // factor)
    mask = Image.new("L", (sw + 2 * margin, sh + 2 * margin), 0)
    _draw_blob(ImageDraw.Draw(mask), rng, (margin, margin, margin + sw - 1, margin + sh - 1))
    if blur:
        mask = mask.filter(ImageFilter.GaussianBlur(blur / factor))
    if factor > 1:
        mask = mask.resize((mask.width * factor, mask.height * factor), Image.Resampling.BILINEAR)
    return mask


def _draw_blob(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: Box) -> None:
    """Fill an ellipse, rounded rectangle or irregular polygon inside a box with white."""
    x0, y0, x1, y1 = box
    kind = int(rng.integers(3))
    if kind == 0:
        draw.ellipse(box, fill=255)
    elif kind == 1:
        draw.rounded_rectangle(box, radius=_ri(rng, 0, min(x1 - x0, y1 - y0) // 2), fill=255)
    else:
        n = _ri(rng, 3, 9)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.5, 1.0, n)
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        points = [(cx + rx * r * math.cos(a), cy + ry * r * math.sin(a))
                  for a, r in zip(angles, radii, strict=True)]
        draw.polygon(points, fill=255)


def _split(rng: np.random.Generator, box: Box, depth: int, min_side: int) -> list[Box]:
    """Cut a box recursively into rectangles (a treemap), stopping at ``min_side``."""
    x0, y0, x1, y1 = box
    vertical = (x1 - x0) > (y1 - y0)
    length = (x1 - x0) if vertical else (y1 - y0)
    if depth == 0 or length < 2 * min_side or _chance(rng, 0.15):
        return [box]
    cut = _ri(rng, min_side, length - min_side)
    first = (x0, y0, x0 + cut, y1) if vertical else (x0, y0, x1, y0 + cut)
    second = (x0 + cut, y0, x1, y1) if vertical else (x0, y0 + cut, x1, y1)
    return _split(rng, first, depth - 1, min_side) + _split(rng, second, depth - 1, min_side)


def _photo_mosaic(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Patches of different photos side by side, blurred: new layouts from a small library."""
    canvas = np.empty((h, w, 3), np.uint8)
    for x0, y0, x1, y1 in _split(rng, (0, 0, w, h), _ri(rng, 2, 4), max(8, min(h, w) // 6)):
        canvas[y0:y1, x0:x1] = _photo_crop(rng, y1 - y0, x1 - x0)
    blur = ImageFilter.GaussianBlur(_ru(rng, 0.7, 5.0))
    return np.asarray(Image.fromarray(canvas).filter(blur))


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A zero-mean grey texture in roughly [-1, 1]: a bundled texture photo, rough noise or
    warped stripes (wood, fabric)."""
    kind = int(rng.integers(3))
    sample = _skimage_image(_pick(rng, _TEXTURE_FILES)) if kind == 0 else None
    if sample is not None:
        box = _crop_box(rng, sample.shape, h, w)
        grey = np.asarray(Image.fromarray(sample).resize((w, h), box=box), np.float32)
        return (grey - grey.mean()) / (grey.std() + 1e-6) * 0.5
    if kind == 1:
        return _fractal_noise(rng, h, w, 1, _ru(rng, 1.5, 2.4))[..., 0] * 0.4
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), _ru(rng, 3.0, 40.0)
    warp = _fractal_noise(rng, h, w, 1, 2.5)[..., 0] * _ru(rng, 0.0, 6.0)
    return np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period + warp) * 0.5


def _textured_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth colour field modulated by a texture: walls, fabric, wood, sand, bark."""
    hue, sat, rows, cols = rng.random(), _ru(rng, 0.05, 0.6), _ri(rng, 2, 6), _ri(rng, 2, 6)
    grid = np.array([_hsv(hue + rng.normal(0, 0.06), sat * _ru(rng, 0.6, 1.2), _ru(rng, 0.2, 0.9))
                     for _ in range(rows * cols)], np.uint8).reshape(rows, cols, 3)
    colour = np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC),
                        np.float32)
    return _to_uint8(colour * (1.0 + _ru(rng, 0.15, 0.8) * _texture(rng, h, w)[..., None]))


_PROCEDURAL: tuple[Callable[[np.random.Generator, int, int], np.ndarray], ...] = (
    _noise_landscape, _soft_shapes, _photo_mosaic, _textured_field,
)


def _procedural_photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """One of the procedural natural-like image generators."""
    return _pick(rng, _PROCEDURAL)(rng, h, w)


def _paste_photo(img: Image.Image, rng: np.random.Generator, box: Box) -> None:
    """Fill a box of a drawing with a photo (illustrations in slides, pages, desktops)."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= 2 and y1 - y0 >= 2:
        img.paste(Image.fromarray(_photo(rng, y1 - y0, x1 - x0)), (x0, y0))


# --------------------------------------------------------------------------------------------
# Shared widgets: a forgiving canvas, icons, buttons, arrows.
# --------------------------------------------------------------------------------------------


def _proper(xy: Sequence) -> bool:
    """Whether a box, (x0, y0, x1, y1) or ((x0, y0), (x1, y1)), is not inverted."""
    (x0, y0), (x1, y1) = xy if len(xy) == 2 else (xy[:2], xy[2:])
    return x1 >= x0 and y1 >= y0


class _Draw(ImageDraw.ImageDraw):
    """ImageDraw that skips boxes that came out inverted. Layouts squeezed into a small or
    oddly shaped canvas can produce them; dropping one widget beats failing a training batch."""

    def rectangle(self, xy: Sequence, *args: Any, **kwargs: Any) -> None:
        if _proper(xy):
            super().rectangle(xy, *args, **kwargs)

    def rounded_rectangle(self, xy: Sequence, radius: float = 0, *args: Any, **kwargs: Any) -> None:
        if _proper(xy):
            super().rounded_rectangle(xy, max(0, radius), *args, **kwargs)

    def ellipse(self, xy: Sequence, *args: Any, **kwargs: Any) -> None:
        if _proper(xy):
            super().ellipse(xy, *args, **kwargs)

    def pieslice(self, xy: Sequence, *args: Any, **kwargs: Any) -> None:
        if _proper(xy):
            super().pieslice(xy, *args, **kwargs)


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


# --------------------------------------------------------------------------------------------
# Slides.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Code editors.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Web pages.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Spreadsheets.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Charts.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Desktop UI.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Plain text documents.
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Photos as screen content.
# --------------------------------------------------------------------------------------------


def _render_photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A full-screen natural image (real or procedural)."""
    return Image.fromarray(_photo(rng, h, w))


# --------------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------------

_Renderer = Callable[[np.random.Generator, int, int], Image.Image]

_RENDERERS: dict[str, _Renderer] = {
    "slides": _render_slides,
    "code": _render_code,
    "web": _render_web,
    "spreadsheet": _render_spreadsheet,
    "chart": _render_chart,
    "ui": _render_ui,
    "text": _render_text,
    "photo": _render_photo,
}

_SCROLL_RENDERERS: dict[str, _Renderer] = {
    "text": _render_text,
    "code": functools.partial(_render_code, chrome=False),  # fixed bars would scroll away
    "web": _render_web,
    "spreadsheet": functools.partial(_render_spreadsheet, chrome=False),
    "photo": _render_photo,
}
"""Kinds whose content flows: a taller canvas is simply a longer document."""


def _resolve_kind(kind: str, rng: np.random.Generator) -> str:
    """Validate a kind; turn ``"mixed"`` into a random one (photo ~40%, others equal)."""
    if kind == "mixed":
        others = (1.0 - MIXED_PHOTO_SHARE) / (len(CONTENT_KINDS) - 1)
        weights = [MIXED_PHOTO_SHARE if k == "photo" else others for k in CONTENT_KINDS]
        return CONTENT_KINDS[int(rng.choice(len(CONTENT_KINDS), p=weights))]
    if kind not in _RENDERERS:
        raise ValueError(f"unknown content kind {kind!r}; expected one of "
                         f"{CONTENT_KINDS + ('mixed',)}")
    return kind


_MIN_SIDE = 96
"""Smaller requests are rendered at this size and cropped: a tiny canvas is a crop of a screen,
and layouts need room for a title bar or a chart axis."""


def _check_size(height: int, width: int) -> None:
    """Reject empty canvases early with a clear message."""
    if height < 1 or width < 1:
        raise ValueError(f"content size must be at least 1x1, got {height}x{width}")


def _render(renderer: _Renderer, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Run a renderer on a canvas of at least :data:`_MIN_SIDE` and crop to the request."""
    image = renderer(rng, max(height, _MIN_SIDE), max(width, _MIN_SIDE))
    return np.asarray(image.convert("RGB"))[:height, :width]


def render_content(kind: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Render one screenful of ``kind`` content as uint8 RGB (height, width, 3).

    ``kind`` is one of :data:`CONTENT_KINDS` or ``"mixed"``. The result depends only on the
    generator's state, which it advances. Raises ValueError for an unknown kind.
    """
    kind = _resolve_kind(kind, rng)
    _check_size(height, width)
    return _render(_RENDERERS[kind], rng, height, width)


def render_scroll_strip(kind: str, rng: np.random.Generator, height: int, width: int,
                        extra: int) -> np.ndarray:
    """Render ``height + extra`` rows of content for scrolling video: a window of ``height`` rows
    sliding down it shows what scrolling that screen would show.

    Text, code, web pages, spreadsheets and photos continue naturally; slides, charts and UI
    screens are stacked one after another, as when scrolling a deck or a dashboard feed.
    """
    kind = _resolve_kind(kind, rng)
    _check_size(height, width)
    if extra < 0:
        raise ValueError(f"extra must be >= 0, got {extra}")
    total = height + extra
    if kind in _SCROLL_RENDERERS:
        return _render(_SCROLL_RENDERERS[kind], rng, total, width)
    gap = _ri(rng, 0, max(0, height // 12))
    strip = np.full((total, width, 3), _ri(rng, 20, 235), np.uint8)
    for top in range(0, total, height + gap):
        screen = _render(_RENDERERS[kind], rng, height, width)
        strip[top:top + height] = screen[: total - top]
    return strip
