"""The network's shading head, its exposure constraint, and how the trainer grows older
checkpoints into them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from streamdemoire.model.checkpoint import load_checkpoint, save_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig, keep_exposure

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
    """The shading head starts at zero: a grown checkpoint computes what it was grown from,
    then keeps the exposure."""
    old = randomised(DemoireNet(NetConfig(**SMALL)))
    save_checkpoint(tmp_path / "old.pt", old, {}, half=False)
    grown = load_train().grown_from(load_checkpoint(tmp_path / "old.pt")).eval()
    assert grown.config.shading and grown.shading is not None
    assert grown.config.keep_exposure
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(grown(x), keep_exposure(old(x), x))


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


def linear_means(frames: torch.Tensor) -> torch.Tensor:
    return (frames.clamp(1e-4, 1) ** 2.2).mean((2, 3))


def test_keep_exposure_undoes_a_level_shift_but_keeps_the_redistribution():
    """The network may move light around (vignetting undone) but not re-expose the frame."""
    torch.manual_seed(1)
    frames = torch.rand(2, 3, 32, 48) * 0.6 + 0.2
    ramp = torch.linspace(0.8, 1.2, 48).view(1, 1, 1, 48)
    out = keep_exposure((frames * ramp * 0.7).clamp(0, 1), frames)  # redistributed and darker
    torch.testing.assert_close(linear_means(out), linear_means(frames), rtol=1e-4, atol=1e-6)
    left, right = out[..., :8] / frames[..., :8], out[..., -8:] / frames[..., -8:]
    assert left.mean() < 0.9 < 1.1 < right.mean()  # the ramp is still there
    same = keep_exposure(frames, frames)
    torch.testing.assert_close(same, frames, rtol=1e-4, atol=1e-4)


def test_a_network_with_keep_exposure_keeps_each_frames_mean_light():
    """(Away from clipping: light scaled past white is lost, as in a camera.)"""
    net = randomised(DemoireNet(NetConfig(**SMALL, shading=True, keep_exposure=True)))
    frames = torch.rand(2, 3, 64, 64) * 0.5 + 0.25
    with torch.no_grad():
        net.head.weight.mul_(0.05)
        net.shading.conv.weight.mul_(0.2)
        out = net(frames)
        assert (out - frames).abs().mean() > 0.01  # the network did change the frames
    torch.testing.assert_close(linear_means(out), linear_means(frames), rtol=1e-3, atol=1e-5)


def test_a_model_round_trips_through_its_checkpoint(tmp_path):
    """Saved (fp16, as shipped) and rebuilt, a network keeps its architecture, metadata and
    outputs; in fp32 the weights come back bit for bit."""
    net = randomised(DemoireNet(NetConfig(**SMALL, shading=True, keep_exposure=True)))
    meta = {"steps": 7, "eval": {"val_gain_db": 1.5}}
    save_checkpoint(tmp_path / "half.pt", net, meta)
    save_checkpoint(tmp_path / "full.pt", net, meta, half=False)
    half, full = load_checkpoint(tmp_path / "half.pt"), load_checkpoint(tmp_path / "full.pt")
    assert half.config == net.config and half.meta == meta
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(half.build()(x), net(x), atol=2e-2, rtol=0)
        torch.testing.assert_close(full.build()(x), net(x), atol=0, rtol=0)
    assert (tmp_path / "half.pt").stat().st_size < 0.7 * (tmp_path / "full.pt").stat().st_size
