"""What content is drawn on: colour and box types, and a canvas that forgives inverted boxes."""

from collections.abc import Sequence
from typing import Any

from PIL import ImageDraw

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


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
