"""Files written whole or not at all: under a hidden name beside the target, renamed onto it
only once complete.

Every file the project writes for a user or for later runs (videos, still images, simulated
clips, checkpoints, engines and their manifests, cached scores, a failed job's reason) goes
through here, so a reader never sees half a file and a failure or a kill leaves nothing
behind. The temporary file is created as a plain ``open`` creates one, with the permissions
the user's umask gives (``tempfile.mkstemp`` would make it private, 0600, and the rename
would keep that).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def part_path(path: Path) -> Path:
    """``.NAME.RANDOM.part.EXT`` beside ``path``: hidden, unlikely to meet another writer's,
    and with ``path``'s extension, which the encoders read the container format from."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part{path.suffix}")


@contextlib.contextmanager
def written_whole(*paths: Path) -> Iterator[list[Path]]:
    """Temporary names (:func:`part_path`) for a block that writes ``paths``, renamed onto
    them only if the block succeeds and removed whatever happens: for writers that open the
    files themselves (encoders)."""
    temps = [part_path(path) for path in paths]
    try:
        yield temps
        for tmp, path in zip(temps, paths, strict=True):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def write_whole(path: Path, data: bytes | memoryview | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, all or nothing."""
    with written_whole(path) as (tmp,), open(tmp, "xb") as out:
        out.write(data.encode() if isinstance(data, str) else data)
