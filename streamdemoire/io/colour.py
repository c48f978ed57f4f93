"""Which YUV <-> RGB conversion a frame needs, from the colour tags FFmpeg puts on it.

The decoder converts with the input's own matrix and range, and the encoder converts back
with the same ones and tags the output identically, so the round trip through RGB neither
shifts colours nor changes what players are told about them.
"""

from __future__ import annotations

#: AVColorSpace code -> swscale matrix name (PyAV's ``Colorspace``); anything else, including
#: "unspecified", gets swscale's default (BT.601), which is what FFmpeg itself does.
_SWS_MATRIX = {1: "itu709", 4: "fcc", 5: "itu601", 6: "smpte170m", 7: "smpte240m",
               9: "bt2020", 10: "bt2020"}

#: AVColorRange: 2 is full ("pc", "jpeg"); 0 (unspecified) and 1 are limited ("tv").
FULL_RANGE = 2


def sws_matrix(colorspace: int) -> str:
    """The swscale matrix for an AVColorSpace code (an int, or PyAV's enum of one)."""
    return _SWS_MATRIX.get(int(colorspace), "default")


def sws_range(color_range: int) -> int:
    """The swscale range for an AVColorRange code: full stays full, anything else is limited."""
    return FULL_RANGE if int(color_range) == FULL_RANGE else 1
