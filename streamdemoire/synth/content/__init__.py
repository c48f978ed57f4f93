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

One module per kind: ``slides``, ``editor`` (``"code"``), ``web``, ``spreadsheet``, ``chart``,
``desktop`` (``"ui"``), ``document`` (``"text"``) and ``photos`` (``"photo"``, and the pictures
the others show); and what they share: ``sampling`` (random draws), ``canvas``, ``text`` (words
and fonts), ``colour`` (themes) and ``widgets`` (icons, buttons, arrows). What these modules
import from each other keeps its leading underscore: it is the package's own, and nothing
outside it should import it; the API is the three names above.
"""

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image

from .chart import _render_chart
from .desktop import _render_ui
from .document import _render_text
from .editor import _render_code
from .photos import _render_photo
from .sampling import _ri
from .slides import _render_slides
from .spreadsheet import _render_spreadsheet
from .web import _render_web

CONTENT_KINDS: tuple[str, ...] = (
    "slides", "code", "web", "spreadsheet", "chart", "ui", "text", "photo",
)
"""The kinds :func:`render_content` draws; ``"mixed"`` is also accepted (a random kind)."""

MIXED_PHOTO_SHARE = 0.4
"""How often ``"mixed"`` picks a photo; the other kinds share the rest equally. Photos get the
largest share because natural images are the hardest to demoiré without smearing texture."""


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
