"""Saving and loading checkpoints: weights plus everything needed to trust and rebuild them.

A checkpoint is a plain ``torch.save`` dict so it loads with ``weights_only=True`` (no pickled
code runs on load). Training metadata rides along so an engine manifest or an evaluation can
say exactly which model it used.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..files import write_whole
from .net import DemoireNet, NetConfig

FORMAT = "streamdemoire-checkpoint-v1"
WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_CHECKPOINT = WEIGHTS_DIR / "demoire.pt"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not one of ours."""


@dataclass
class Checkpoint:
    config: NetConfig
    state_dict: dict
    meta: dict = field(default_factory=dict)

    def build(self) -> DemoireNet:
        """The network with these weights, in eval mode, on the CPU in fp32."""
        net = DemoireNet(self.config)
        net.load_state_dict({k: v.float() for k, v in self.state_dict.items()})
        return net.eval()


def save_checkpoint(path: Path, net: DemoireNet, meta: dict, half: bool = True) -> None:
    """Written whole (:func:`write_whole`), so a killed trainer never leaves a torn file.

    ``half`` stores the weights in fp16 to keep the shipped file small; they load back as fp32.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).cpu().clone()
             for k, v in net.state_dict().items()}
    blob = {"format": FORMAT, "config": net.config.to_dict(), "state_dict": state, "meta": meta}
    serialised = io.BytesIO()
    torch.save(blob, serialised)
    write_whole(path, serialised.getbuffer())


def load_checkpoint(path: Path | None = None) -> Checkpoint:
    path = Path(path) if path else DEFAULT_CHECKPOINT
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a streamdemoire checkpoint")
    return Checkpoint(NetConfig.from_dict(blob["config"]), blob["state_dict"], blob.get("meta", {}))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
