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

import os
import secrets
from pathlib import Path


def part_path(path: Path) -> Path:
    """``.NAME.RANDOM.part.EXT`` beside ``path``: hidden, unlikely to meet another writer's,
    and with ``path``'s extension, which the encoders read the container format from. For a
    writer that opens the file itself (an encoder); the caller renames it or removes it."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part{path.suffix}")


def write_whole(path: Path, data: bytes | memoryview | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, all or nothing."""
    tmp = part_path(path)
    try:
        with open(tmp, "xb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
