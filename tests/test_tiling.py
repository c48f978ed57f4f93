"""Tiling: a tiled run equals an untiled one (away from numerical noise), with no seams."""

from __future__ import annotations

import pytest
import torch

from streamdemoire.engine.tiling import (
    edge_ramp,
    pad_to_min,
    split_batches,
    tile_starts,
    tiled_apply,
)
from streamdemoire.model.net import STRIDE, DemoireNet, NetConfig


def local_net() -> DemoireNet:
    """The real architecture, narrow, with random weights and the frame-wide colour branch
    made input-independent (its pooled features get zero weight): then every output pixel
    depends only on pixels within ~80 px, which a 96 px tile margin covers."""
    torch.manual_seed(0)
    net = DemoireNet(NetConfig(widths=(4, 4, 4, 4), blocks=(0, 0, 0, 0), dilations=(1,)))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.3)
    torch.nn.init.zeros_(net.colour.fc2.weight)
    return net.eval()


def plain(fn):
    return lambda tiles: map(fn, tiles)


def test_tile_starts_cover_with_overlap_and_stay_aligned():
    starts = tile_starts(1088 * 2, 1088, 192)
    assert starts[0] == 0 and starts[-1] == 2176 - 1088
    assert all(s % STRIDE == 0 for s in starts)
    assert all(b - a <= 1088 - 192 for a, b in zip(starts, starts[1:], strict=False))
    assert tile_starts(500, 1088, 192) == [0]
    with pytest.raises(ValueError):
        tile_starts(4000, 256, 256)


def test_edge_ramps_of_neighbours_add_up_to_one():
    size, overlap, margin = 256, 192, 64
    left = edge_ramp(size, margin, overlap - 2 * margin, False, True)
    right = edge_ramp(size, margin, overlap - 2 * margin, True, False)
    shared = left[size - overlap:] + right[:overlap]
    assert torch.allclose(shared, torch.ones(overlap))
    assert left[0] == 1 and right[-1] == 1  # frame borders keep full weight


@torch.inference_mode()
def test_tiled_run_equals_untiled_run():
    net = local_net()
    frames = torch.rand(1, 3, 384, 512)
    whole = net(frames)
    tiled = tiled_apply(plain(net), frames, tile=(320, 320), overlap=224, margin=96)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() < 1e-5


@torch.inference_mode()
def test_blend_hides_seams_of_a_tile_dependent_model():
    """A model whose output depends on its tile (each tile's mean) leaves no hard step."""
    frames = torch.rand(1, 3, 256, 448) * 0 + torch.linspace(0, 1, 448)
    tiled = tiled_apply(plain(lambda t: t * 0 + t.mean()), frames, tile=(256, 256),
                        overlap=192, margin=32)
    steps = tiled[0, 0, 0].diff().abs()
    assert steps.max() < 0.02  # a butt joint would jump by the tiles' mean difference


def test_runner_sees_all_tiles_as_one_stream():
    seen = []

    def runner(tiles):
        for t in tiles:
            seen.append(tuple(t.shape))
            yield t * 2

    frames = torch.rand(1, 3, 256, 640)
    out = tiled_apply(runner, frames, tile=(256, 384), overlap=128, margin=32)
    assert len(seen) == 2 and torch.allclose(out, frames * 2, atol=1e-6)


def test_split_batches_respects_the_largest_batch_and_keeps_order():
    calls = []

    def runner(chunks):
        for c in chunks:
            calls.append(c.shape[0])
            yield c + 1

    inputs = [torch.arange(5.0).view(5, 1), torch.arange(2.0).view(2, 1)]
    outs = list(split_batches(runner, inputs, max_batch=2))
    assert calls == [2, 2, 1, 2]
    assert [o.flatten().tolist() for o in outs] == [[1, 2, 3, 4, 5], [1, 2]]


def test_pad_to_min():
    frames = torch.rand(1, 3, 64, 300)
    padded, h, w = pad_to_min(frames, (256, 256))
    assert padded.shape[-2:] == (256, 300) and (h, w) == (64, 300)
    assert torch.equal(padded[..., :64, :], frames)
