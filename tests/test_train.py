"""The trainer: a tiny run lowers the loss, and its checkpoints carry what they promise."""

import argparse
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_net import ROOT, load_train

from streamdemoire.model.checkpoint import file_sha256, load_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig
from streamdemoire.synth.pairs import pair_for_seed


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


def test_a_few_steps_on_simulator_pairs_lower_the_loss():
    train = load_train()
    torch.manual_seed(0)
    pairs = [pair_for_seed(seed, 64, 64) for seed in (1, 2, 3, 4)]
    x, y = as_batch([p[0] for p in pairs]), as_batch([p[1] for p in pairs])
    net = DemoireNet(NetConfig(shading=True, keep_exposure=True))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        loss = train.loss_fn(net(x), y, 0.0, "mse", 0.02, 0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_residual_lowpass_sees_coarse_light_and_lets_fine_moire_through():
    train = load_train()
    stripes = torch.zeros(1, 3, 64, 64)
    stripes[..., ::2] = 0.3  # 2 px period, as fine moire: its block means are 0.15 everywhere
    assert train.residual_lowpass(stripes - 0.15) < 1e-6
    ramp = torch.linspace(-0.2, 0.2, 64).expand(1, 3, 64, 64)  # a gradient, coarse light
    assert 0.09 < train.residual_lowpass(ramp) < 0.11


def test_residual_is_what_the_head_adds_to_the_input():
    net = DemoireNet(NetConfig())
    torch.nn.init.normal_(net.head.weight, std=0.1)
    frames = torch.rand(1, 3, 64, 64)
    out, residual = net.forward_with_residual(frames)
    assert residual.abs().mean() > 1e-3
    torch.testing.assert_close(out, frames + residual)
    torch.testing.assert_close(net(frames), out)


def run_trainer(run_dir, *extra: str) -> str:
    cmd = [sys.executable, str(ROOT / "tools" / "train.py"), "--run", str(run_dir),
           "--render", "64", "--crop", "64", "--batch", "2", "--pool", "4",
           "--fresh-per-step", "1", "--workers", "0", "--eval-every", "2", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_checkpoints_hold_the_weights_average_and_resume(tmp_path, identity_checkpoint):
    run_trainer(tmp_path, "--steps", "4", "--lr", "1e-2", "--ema", "0.5",
                "--residual-lowpass-weight", "0.05", "--fresh-per-step", "0.5",
                "--init", str(identity_checkpoint))
    for name in ("step2.pt", "step4.pt", "best.pt", "last.pt"):
        assert (tmp_path / name).exists(), name
    saved = load_checkpoint(tmp_path / "step4.pt")
    assert saved.meta["steps"] == 4 and saved.meta["data"]["ema"] == 0.5
    assert saved.meta["data"]["residual_lowpass_weight"] == 0.05
    assert saved.meta["data"]["fresh_per_step"] == 0.5
    assert set(saved.meta["eval"]) == {"val_input_psnr", "val_gain_db", "val_text_sharpness"}
    assert saved.meta["git"]
    assert saved.meta["data"]["init"]["sha256"] == file_sha256(identity_checkpoint)
    # What is saved is the moving average, not the last step's raw weights.
    raw = torch.load(tmp_path / "last.pt", weights_only=False)["model"]
    key = "enc1.entry.weight"
    assert not torch.allclose(saved.state_dict[key].float(), raw[key].half().float())

    out = run_trainer(tmp_path, "--steps", "6", "--lr", "1e-2", "--ema", "0.5", "--resume")
    assert "resumed at step 4" in out
    assert load_checkpoint(tmp_path / "step6.pt").meta["steps"] == 6


def test_fresh_pairs_follow_the_rate_from_any_step():
    fresh_pairs_at = load_train().fresh_pairs_at
    assert [fresh_pairs_at(s, 2) for s in range(3)] == [2, 2, 2]
    eighth = [fresh_pairs_at(s, 0.125) for s in range(24)]
    assert sum(eighth) == 3 and eighth[7] == eighth[15] == eighth[23] == 1
    # a run resumed at step 100 renders what an unbroken one would have from there on
    assert sum(fresh_pairs_at(s, 0.3) for s in range(100, 200)) == 30


def test_downscaled_crops_show_a_larger_view_of_the_same_pair():
    train = load_train()
    torch.manual_seed(0)
    # A pair whose pixels say where they were: column index in the first channel.
    columns = torch.arange(250).repeat(3, 120, 1).to(torch.uint8)
    pool = train.ReplayPool(4, downscale=1.0)
    pool.add(columns.permute(1, 2, 0), columns.permute(1, 2, 0))
    x, y = pool.batch(1, (64, 64))
    assert x.shape == y.shape == (1, 3, 64, 64) and torch.equal(x, y)
    # 64 columns of a view shrunk 2-3 times span 128-192 of the original's
    span = (x[0, 0, 0].max() - x[0, 0, 0].min()).item() * 255
    assert 110 <= span <= 200, span

    small, _ = train.shrunk(columns, columns, 10.0, (64, 64))  # never below the crop
    assert small.shape == (3, 64, 133)


def test_downscaled_whole_frames_are_whole_smaller_frames_one_size_per_batch():
    train = load_train()
    random.seed(0)
    pool = train.ReplayPool(4, downscale=1.0)
    for value in (10, 200):
        frame = torch.full((120, 250, 3), value, dtype=torch.uint8)
        frame[:, :6] = frame[:, -6:] = 255 - value  # the frame's edges, which a crop would cut
        pool.add(frame, frame)
    sizes = set()
    for _ in range(12):
        x, y = pool.batch(2, (250, 120))
        height, width = x.shape[-2:]
        assert 40 <= height <= 60 and abs(width / height - 250 / 120) < 0.1
        assert height % 2 == width % 2 == 0
        # both frames whole: their edge columns kept, at the same shrunk size
        assert (x[:, 0, :, 0] - x[:, 0, :, width // 2]).abs().min() > 0.2
        sizes.add((height, width))
    assert len(sizes) > 3  # a factor drawn per batch


def test_a_crop_of_the_renders_shape_is_the_whole_frame_flipped_or_not():
    train = load_train()
    assert train.frame_shape("320") == (320, 320)
    assert train.frame_shape("1280x720") == (1280, 720)
    with pytest.raises(argparse.ArgumentTypeError):
        train.frame_shape("wide")
    frame = torch.arange(120 * 250 * 3).remainder(251).to(torch.uint8).view(120, 250, 3)
    pool = train.ReplayPool(2)
    pool.add(frame, frame)
    whole = frame.permute(2, 0, 1).float() / 255
    views = [whole, whole.flip(-1), whole.flip(-2), whole.flip(-1, -2)]
    for _ in range(8):
        x, y = pool.batch(1, (250, 120))
        assert x.shape == (1, 3, 120, 250) and torch.equal(x, y)
        assert any(torch.equal(x[0], view) for view in views)
