"""Names for outputs being written: a hidden file beside the target, renamed onto it whole.

Every output (video, still image, simulated clip) is written under such a name and renamed
only once complete, so a reader never sees half a file and a failure leaves nothing
behind. The name is only chosen here, not created: the writer creates the file as any
plain ``open`` would, with the permissions the user's umask gives (``tempfile.mkstemp``
would make it private, 0600, and the rename would keep that).
"""

from __future__ import annotations

import secrets
from pathlib import Path


def part_path(path: Path) -> Path:
    """``.NAME.RANDOM.part.EXT`` beside ``path``: hidden, unlikely to meet another writer's,
    and with ``path``'s extension, which the encoders read the container format from."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.part{path.suffix}")
