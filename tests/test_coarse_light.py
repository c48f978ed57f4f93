"""The whole-frame coarse light corrector (CoarseLight) and tools/train_coarse.py."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import torch
from test_net import ROOT, SMALL, randomised

from streamdemoire.model.checkpoint import load_checkpoint, save_checkpoint
from streamdemoire.model.net import CoarseLight, DemoireNet, NetConfig


def test_a_fresh_corrector_changes_nothing():
    """It starts at exactly no gain, so adding it to a trained network keeps its output."""
    base = randomised(DemoireNet(NetConfig(**SMALL, shading=True, keep_exposure=True)))
    withit = DemoireNet(replace(base.config, coarse_light=True)).eval()
    withit.load_state_dict(base.state_dict(), strict=False)
    x = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        assert torch.equal(withit(x), base(x))


def test_it_sees_every_frame_size_on_the_same_grid():
    for h, w in ((64, 96), (384, 640), (736, 1280), (640, 384)):
        assert CoarseLight.thumbnail(torch.rand(1, 3, h, w)).shape[-2:] == CoarseLight.GRID


def test_its_gain_is_smooth_bounded_and_reads_the_whole_frame():
    torch.manual_seed(0)
    corrector = CoarseLight().eval()
    for p in corrector.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x = torch.rand(1, 3, 256, 448) * 0.5 + 0.25
    out = x * 0.9
    with torch.no_grad():
        gain = corrector.gain(x, out)
        changed = x.clone()
        changed[..., :, -32:] = 1.0  # brighten the right edge only
        far = corrector.gain(changed, out)[..., :, :64]  # ... and look at the left edge
    assert gain.shape == (1, 3, 256, 448)
    assert np.exp(-1) - 1e-5 <= gain.min() and gain.max() <= np.exp(1) + 1e-5
    assert (gain[..., 1:] - gain[..., :-1]).abs().max() < 0.1 * (gain.max() - gain.min())
    assert not torch.allclose(far, gain[..., :, :64])


def test_make_then_fit_writes_a_network_with_a_trained_corrector(tmp_path):
    """Tiny frames, few steps: the plumbing, not the quality (docs/model.md has that)."""
    base = tmp_path / "base.pt"
    net = randomised(DemoireNet(NetConfig(**SMALL, shading=True, keep_exposure=True)))
    save_checkpoint(base, net, {"steps": 1})
    run = tmp_path / "run"
    script = str(ROOT / "tools" / "train_coarse.py")
    env_sizes = "--sizes", "96x64:1"
    make = [sys.executable, script, "make", "--run", str(run), "--checkpoint", str(base),
            "--samples", "22", "--workers", "1", "--shard", "2", *env_sizes]
    first = subprocess.run(make, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(make, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "11 shards there, 0 to render" in again.stdout  # resumable: nothing twice
    out = tmp_path / "withit.pt"
    fit = [sys.executable, script, "fit", "--run", str(run), "--checkpoint", str(base),
           "--steps", "20", "--batch", "8", "--eval-every", "10", "--out", str(out)]
    done = subprocess.run(fit, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "96x64:" in done.stdout  # held-out scores per frame size

    trained = load_checkpoint(out)
    assert trained.config.coarse_light
    head = trained.state_dict["coarse_light.head.weight"]
    assert head.abs().max() > 0  # it learnt something, from its zero start
    for key, value in load_checkpoint(base).state_dict.items():
        assert torch.equal(trained.state_dict[key], value)  # the network itself is untouched
    info = trained.meta["coarse_light"]
    assert info["frames"] == 18 and info["held_out_thumbnail_psnr"]["all"]["after"] > 0
