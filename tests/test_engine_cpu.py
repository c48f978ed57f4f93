"""The CPU forward pass (engine/cpu_net.py) computes what DemoireNet computes."""

from __future__ import annotations

import copy
from dataclasses import fields

import numpy as np
import pytest
import torch

from streamdemoire.engine import cpu_net, frames_to_tensor, tensor_to_frames
from streamdemoire.engine.cpu_net import CpuDemoireNet
from streamdemoire.engine.onnx_export import synthetic_frame
from streamdemoire.engine.torch_engine import TorchEngine
from streamdemoire.model.checkpoint import Checkpoint, load_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig, pad_to_stride

#: Stride-aligned, neither square nor equal; the batch of two checks the batch dimension.
SIZES = ((2, 64, 96), (1, 96, 160))
TOLERANCE = 1e-4
#: NetConfig's on/off features (shading, keep_exposure, ...): each is checked alone and all
#: together, so one added to the network is checked here as soon as it exists.
FLAGS = [f.name for f in fields(NetConfig) if isinstance(f.default, bool)]


pytestmark = pytest.mark.usefixtures("torch_pinned_to_one_thread")


def random_net(flags: list[str], seed: int = 0) -> DemoireNet:
    """Narrow, with a residual block on every level (the first one too) and random weights."""
    torch.manual_seed(seed)
    config = NetConfig(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 2), **dict.fromkeys(flags, True))
    net = DemoireNet(config)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return net.eval()


def frames(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    batch = [torch.from_numpy(synthetic_frame(h, w, seed + i)) for i in range(n)]
    return torch.stack(batch).contiguous(memory_format=torch.channels_last)


def max_diff(net: DemoireNet, fast: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.inference_mode():
        return (fast(x) - net(x)).abs().max().item()


@pytest.mark.parametrize("fused", [True, False], ids=["onednn-fused", "plain-ops"])
@pytest.mark.parametrize("flags", [[], *([f] for f in FLAGS), FLAGS],
                         ids=["plain", *FLAGS, "all-features"])
def test_cpu_net_matches_the_network_at_two_sizes(flags, fused):
    net = random_net(flags)
    assert cpu_net.supports(net.config)
    fast = CpuDemoireNet(copy.deepcopy(net))
    if not fused:
        fast.fused = False  # the fallback for a torch without oneDNN's fused operators
    elif not fast.fused:
        pytest.skip("this torch has no mkldnn._convolution_pointwise")
    for n, h, w in SIZES:
        x = frames(n, h, w)
        assert max_diff(net, fast, x) <= TOLERANCE
        assert max_diff(net, fast, x.contiguous()) <= TOLERANCE  # NCHW frames too


def test_torch_engine_cpu_matches_the_shipped_network():
    """The engine as the pipeline calls it (padding, cropping, clamping), shipped weights."""
    checkpoint = load_checkpoint()
    engine = TorchEngine(checkpoint, "cpu")
    assert isinstance(engine.net, CpuDemoireNet)
    net = checkpoint.build()
    for n, h, w in ((1, 72, 120), (2, 64, 96)):  # 72x120 is padded to 96x128 and cropped
        x = frames(n, h, w, seed=7)
        padded, _, _ = pad_to_stride(x)
        with torch.inference_mode():
            want = net(padded)[..., :h, :w].clamp(0.0, 1.0)
            got = engine(x)
        assert got.shape == want.shape
        assert (got - want).abs().max().item() <= TOLERANCE


def test_identity_network_stays_exact():
    """A fresh network (zero head, no shading) returns its input bit for bit."""
    net = DemoireNet().eval()
    engine = TorchEngine(Checkpoint(net.config, net.state_dict()), "cpu")
    x = frames(1, 64, 96)
    with torch.inference_mode():
        assert torch.equal(engine(x), x)


def test_a_feature_the_cpu_net_does_not_know_runs_the_plain_network(monkeypatch):
    monkeypatch.setattr(cpu_net, "KNOWN_CONFIG", cpu_net.KNOWN_CONFIG - {"keep_exposure"})
    net = random_net(["keep_exposure"])
    assert not cpu_net.supports(net.config)
    with pytest.raises(ValueError):
        CpuDemoireNet(net)
    engine = TorchEngine(Checkpoint(net.config, net.state_dict()), "cpu")
    assert isinstance(engine.net, DemoireNet)
    assert cpu_net.supports(random_net([]).config)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_frames_round_trip_through_floats_in_either_layout(layout):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    floats = frames_to_tensor(frames, torch.device("cpu")).contiguous(memory_format=layout)
    assert np.array_equal(tensor_to_frames(floats), frames)
    off_range = torch.tensor([-0.2, 0.3 / 255, 0.7 / 255, 1.5]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    assert tensor_to_frames(off_range)[0, 0].tolist() == [[0] * 3, [0] * 3, [1] * 3, [255] * 3]
