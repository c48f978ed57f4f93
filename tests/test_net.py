"""The network's shading head, and how the trainer grows older checkpoints into it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from streamdemoire.model.checkpoint import load_checkpoint, save_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(widths=(8, 8, 16, 16), blocks=(0, 1, 0, 1))


def load_train():
    spec = importlib.util.spec_from_file_location("train", ROOT / "tools" / "train.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train"] = module
    spec.loader.exec_module(module)
    return module


def randomised(net: DemoireNet) -> DemoireNet:
    torch.manual_seed(0)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return net.eval()


def test_grown_checkpoint_computes_what_it_was_grown_from(tmp_path):
    """The shading head starts at zero: growing a checkpoint changes no output."""
    old = randomised(DemoireNet(NetConfig(**SMALL)))
    save_checkpoint(tmp_path / "old.pt", old, {}, half=False)
    grown = load_train().grown_from(load_checkpoint(tmp_path / "old.pt")).eval()
    assert grown.config.shading and grown.shading is not None
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(grown(x), old(x))


def test_shading_head_is_a_smooth_multiplicative_gain():
    """With the residual silenced, the output is the input times a smooth, bounded gain."""
    net = randomised(DemoireNet(NetConfig(**SMALL, shading=True)))
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    x = torch.rand(1, 3, 128, 128) * 0.5 + 0.25
    with torch.no_grad():
        gain = net(x) / x
    assert not torch.allclose(gain, torch.ones_like(gain))
    assert gain.min() >= torch.exp(torch.tensor(-1.0)) - 1e-5
    assert gain.max() <= torch.exp(torch.tensor(1.0)) + 1e-5
    # smooth: neighbouring pixels' gains differ far less than the gain varies overall
    step = (gain[..., 1:] - gain[..., :-1]).abs().max()
    assert step < 0.1 * (gain.max() - gain.min())
