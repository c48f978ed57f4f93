"""A physically based simulator of a camera filming a screen, with exact clean twins.

- ``content``: what the screen shows (slides, code, web pages, photos, ...), at display pixels;
  a package, one module per kind of screen and one per thing they share (text, colour, ...).
- ``camera``: the display's subpixels and the camera that films them (pose, lens, optics,
  Bayer sensor, noise, tone, phone-style downscaling and compression) -> a moiré frame and its
  aligned clean twin.
- ``video``: smooth hand-held trajectories, scrolling and scene cuts over time.
"""

import hashlib
from pathlib import Path


def source_digest(root: Path = Path(__file__).parent) -> str:
    """SHA-256 of the simulator's source (``root``: this package), subpackages included.

    What it renders for a seed changes only with this source, so a rendered clip kept on disk
    is reused only while the digest matches (the benchmark's clip cache, the live tests' clip).
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
