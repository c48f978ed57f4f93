"""What travels between the pipeline's stages: batches of frames and their timestamps.

These types are shared by every source and sink (file, live stream, benchmark), so they
live apart from both and from the pipeline that moves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FrameTime:
    """When a frame is shown, exactly as the input said: the encoder reuses it unchanged.

    Timestamps are never recomputed from a frame rate, so variable frame rate input stays
    variable and audio stays in sync.
    """

    pts: int
    time_base: Fraction
    #: How long the frame is shown, in ``time_base`` units; 0 when the input did not say.
    duration: int = 0


@dataclass
class Batch:
    """Up to ``--batch`` consecutive frames, in display order, plus what rides along with them."""

    #: uint8 RGB frames, N x H x W x 3 (N may be 0 for a batch that only carries ``passthrough``).
    frames: np.ndarray
    #: One FrameTime per frame, in the same order.
    times: list[FrameTime]
    #: Items of other streams (audio and subtitle packets) read from the input up to the last
    #: frame of this batch, in input order; the sink copies them without looking at pixels.
    passthrough: list[Any] = field(default_factory=list)
    #: For live sources: when each frame was received (``time.monotonic()``), so the pipeline
    #: can drop frames that waited too long and measure each frame's latency; None for files.
    arrival: list[float] | None = None

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class VideoInfo:
    """What the sink needs to know about the input video to reproduce it faithfully."""

    width: int
    height: int
    #: FFmpeg pixel format the decoder produced, e.g. "yuv420p10le": it decides the output
    #: bit depth and chroma format.
    pix_fmt: str
    #: Time base of every frame's pts.
    time_base: Fraction
    #: Average frame rate, for encoders' rate control only (None when the input has none).
    rate: Fraction | None
    #: Number of frames the container announces (None when it does not), for progress bars.
    frames: int | None
    #: AVColorRange / AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic codes.
    color_range: int = 0
    colorspace: int = 2
    color_primaries: int = 2
    color_trc: int = 2
    #: The 3x3 display matrix (rotation, flips) as FFmpeg stores it, or None.
    display_matrix: tuple[int, ...] | None = None
    sample_aspect_ratio: Fraction | None = None
    #: The video stream's tags (language, title, ...) and disposition flags (default, ...).
    tags: dict[str, str] = field(default_factory=dict)
    disposition: int = 0
