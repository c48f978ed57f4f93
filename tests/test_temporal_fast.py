"""The temporal smoother's cheap formulation computes what the plain one did (issue 8).

streamdemoire/temporal.py builds the sampling grid by hand, takes the 3 x 3 minimum and
maximum without padding, pools 2 x 2 by strided slices, samples the history in bands, blends
with ``torch.lerp`` and keeps its large tensors in buffers per stream. Each piece is checked
here against the plain torch call it replaces, and the whole smoother against a step written
the plain way (``F.affine_grid``, padded windows, a fresh tensor for everything), as it was
before; only float rounding may differ.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from temporal_clips import render

from streamdemoire import temporal
from streamdemoire.temporal import (
    BRIGHTNESS_CHANGE_RATIO,
    CUT_CORRELATION,
    DEFAULT_STRENGTH,
    DETAIL_SCALE,
    MOIRE_DETAIL_SCALE,
    MOIRE_RESIDUAL_SCALE,
    REMOVED_LEVEL,
    RESIDUAL_SCALE,
    RIPPLE_LEVEL,
    RIPPLE_RADIUS,
    TemporalSmoother,
    camera_motion,
    correlation,
    luma,
    thumbnail,
)

THETA = torch.tensor([[0.998, 0.006, 0.02], [-0.005, 1.003, -0.015]])


@pytest.fixture(autouse=True)
def two_threads():
    """Two torch threads, so the smoother samples the history in two bands, as on the
    2-core machines it was tuned on."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clip():
    return render(seed=0, n=10)


@pytest.fixture(scope="module")
def rippled():
    """A clip whose leftover is strong enough for the scales to widen."""
    return render(seed=0, n=6, moire=0.1)


def padded_window(img: torch.Tensor, reduce, radius: int = 1) -> torch.Tensor:
    """The square window the plain way: replicate padding, then every shifted slice."""
    h, w = img.shape[-2:]
    side = 2 * radius + 1
    padded = F.pad(img, (radius,) * 4, mode="replicate")
    out = padded[..., 0:h, 0:w]
    for dy in range(side):
        for dx in range(side):
            if dy or dx:
                out = reduce(out, padded[..., dy:dy + h, dx:dx + w])
    return out


def plain_colour_energy(rgb: torch.Tensor, fine: bool = False) -> torch.Tensor:
    energy = 0
    for channel in (0, 2):
        difference = rgb[:, channel:channel + 1] - rgb[:, 1:2]
        if fine:
            difference = difference - padded_window(difference, torch.add) / 9
        energy = energy + difference * difference
    return F.avg_pool2d(energy, 2, ceil_mode=True)


def plain_ripple(rgb: torch.Tensor) -> torch.Tensor:
    side = 2 * RIPPLE_RADIUS + 1
    pooled = padded_window(plain_colour_energy(rgb, fine=True), torch.add, RIPPLE_RADIUS)
    return torch.sqrt(pooled / side**2)


def plain_moire_share(history: torch.Tensor, frame: torch.Tensor, inputs: torch.Tensor,
                      residual_energy: torch.Tensor) -> torch.Tensor:
    removed = ((plain_ripple(inputs - frame) - REMOVED_LEVEL) / REMOVED_LEVEL).clamp(0, 1)
    ripple = ((plain_ripple(frame) - RIPPLE_LEVEL) / RIPPLE_LEVEL).clamp(0, 1)
    colour_change = padded_window(plain_colour_energy(history - frame), torch.add) / 9
    brightness = padded_window(residual_energy, torch.add) / 9
    mostly_colour = (1 - brightness / (BRIGHTNESS_CHANGE_RATIO * colour_change + 1e-6))
    return removed * ripple * mostly_colour.clamp(0, 1)


@pytest.mark.parametrize("size", [(720, 1280), (96, 160), (5, 3), (1, 1)])
def test_affine_grid_matches_torch(size):
    h, w = size
    expected = F.affine_grid(THETA[None], [1, 3, h, w], align_corners=False)
    assert torch.allclose(temporal.affine_grid(THETA, h, w), expected, atol=1e-6)


@pytest.mark.parametrize("size", [(2, 2), (7, 5), (16, 31), (96, 160)])
def test_clamp_is_the_padded_windows_minimum_and_maximum(size):
    g = torch.Generator().manual_seed(1)
    frame = torch.rand(2, 3, *size, generator=g)
    history = torch.rand(2, 3, *size, generator=g)
    low, high = padded_window(frame, torch.minimum), padded_window(frame, torch.maximum)
    expected = torch.minimum(torch.maximum(history, low), high)
    assert torch.equal(temporal.clamp_to_neighbourhood(history, frame), expected)
    # channels-last frames (the network's layout) give the same
    last = frame.contiguous(memory_format=torch.channels_last)
    assert torch.equal(temporal.clamp_to_neighbourhood(history, last), expected)


def test_clamp_reads_the_history_in_bands():
    g = torch.Generator().manual_seed(2)
    frame, history = torch.rand(1, 3, 12, 10, generator=g), torch.rand(1, 3, 12, 10, generator=g)
    expected = temporal.clamp_to_neighbourhood(history, frame)
    bands = history.view(3, 4, 3, 10).transpose(0, 1).contiguous()  # 4 bands of 3 rows
    out = torch.empty_like(frame)
    temporal._clamp_into(bands, frame, out, temporal._fresh, bands=4)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("size", [(8, 12), (7, 12), (8, 13), (1, 1)])
def test_pool2_matches_avg_pool(size):
    img = torch.rand(1, 1, *size, generator=torch.Generator().manual_seed(3))
    expected = F.avg_pool2d(img, 2, ceil_mode=True)
    assert torch.allclose(temporal._pool2(img), expected, atol=1e-7)


def test_box_mean_matches_padded_window():
    img = torch.rand(1, 1, 9, 14, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(temporal.box_mean(img), padded_window(img, torch.add) / 9, atol=1e-6)


def test_banded_sampling_is_the_single_call_bit_for_bit():
    img = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(5))
    grid = temporal.affine_grid(THETA, 48, 40)
    single = F.grid_sample(img, grid, mode="bicubic", padding_mode="border", align_corners=False)
    bands = F.grid_sample(img.expand(4, 3, 48, 40), grid.view(4, 12, 40, 2), mode="bicubic",
                          padding_mode="border", align_corners=False)
    assert torch.equal(bands.transpose(0, 1).reshape(1, 3, 48, 40), single)


class PlainSmoother:
    """The smoother as it was written before it was made cheap: every step in plain torch
    calls, on fresh tensors (the reference for what the fast one must compute)."""

    def __init__(self, strength: float = DEFAULT_STRENGTH) -> None:
        self.strength, self.history, self.thumb, self.cuts = strength, None, None, 0

    def __call__(self, frames: torch.Tensor, inputs: torch.Tensor | None = None
                 ) -> torch.Tensor:
        return torch.cat([self.step(f[None], None if inputs is None else inputs[i:i + 1])
                          for i, f in enumerate(frames)])

    def step(self, frame: torch.Tensor, inputs: torch.Tensor | None) -> torch.Tensor:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        current = (frame * w).sum(1, keepdim=True)
        thumb = thumbnail(frame, current)
        if self.history is None:
            self.history, self.thumb = frame, thumb
            return frame
        theta = camera_motion(self.thumb, thumb)
        moved = F.grid_sample(self.thumb[None, None],
                              F.affine_grid(theta[None], [1, 1, *thumb.shape], align_corners=False),
                              padding_mode="border", align_corners=False)
        if correlation(moved[0, 0], thumb).item() < CUT_CORRELATION:
            self.cuts += 1
            self.history, self.thumb = frame, thumb
            return frame
        grid = F.affine_grid(theta[None], list(frame.shape), align_corners=False)
        warped = F.grid_sample(self.history, grid, mode="bicubic", padding_mode="border",
                               align_corners=False)
        low = padded_window(frame, torch.minimum)
        high = padded_window(frame, torch.maximum)
        warped = torch.minimum(torch.maximum(warped, low), high)
        residual = (warped * w).sum(1, keepdim=True) - current
        detail = current - padded_window(current, torch.add) / 9
        residual_energy = F.avg_pool2d(residual * residual, 2, ceil_mode=True)
        share = (torch.zeros_like(residual_energy) if inputs is None
                 else plain_moire_share(warped, frame, inputs, residual_energy))
        residual_scale = RESIDUAL_SCALE + share * (MOIRE_RESIDUAL_SCALE - RESIDUAL_SCALE)
        detail_scale = DETAIL_SCALE + share * (MOIRE_DETAIL_SCALE - DETAIL_SCALE)
        energy = (residual_energy / residual_scale**2
                  + F.avg_pool2d(detail * detail, 2, ceil_mode=True) / detail_scale**2)
        weight = self.strength * torch.exp(-padded_window(energy, torch.add) / 9)
        weight = F.interpolate(weight, scale_factor=2, mode="nearest")[
            ..., :frame.shape[-2], :frame.shape[-1]]
        out = frame + weight * (warped - frame)
        self.history, self.thumb = out, thumb
        return out


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_smoother_computes_what_the_plain_formulation_does(clip, layout):
    frames = clip.output.contiguous(memory_format=layout)
    fast, plain = TemporalSmoother(), PlainSmoother()
    batches = [fast(frames[i:i + 3]) for i in range(0, len(frames), 3)]
    out = torch.cat(batches)
    expected = plain(clip.output)
    assert fast.cuts == plain.cuts == 0
    assert not torch.allclose(expected[1:], clip.output[1:], atol=1e-3)  # it does smooth
    # float rounding only: an 8-bit level is 4e-3
    assert (out - expected).abs().max() < 5e-5


def test_smoother_with_the_inputs_computes_what_the_plain_formulation_does(rippled):
    fast, plain = TemporalSmoother(), PlainSmoother()
    frames, inputs = rippled.output, rippled.inputs
    out = torch.cat([fast(frames[i:i + 3], inputs[i:i + 3]) for i in range(0, len(frames), 3)])
    expected = plain(frames, inputs)
    assert not torch.allclose(expected[1:], plain(frames)[1:], atol=1e-3)  # the scales widen
    assert (out - expected).abs().max() < 5e-5


def test_colour_ripple_matches_the_padded_windows():
    frame = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(6))
    assert torch.allclose(temporal.colour_ripple(frame), plain_ripple(frame), atol=1e-6)


def test_smoother_matches_the_plain_one_across_a_cut():
    cut = render(seed=2, n=8, cut_at=4)
    fast, plain = TemporalSmoother(), PlainSmoother()
    out = torch.cat([fast(cut.output[:5]), fast(cut.output[5:])])
    assert (out - plain(cut.output)).abs().max() < 5e-5
    assert fast.cuts == plain.cuts == 1


def test_the_returned_batch_is_the_callers(clip):
    """The stream keeps its own copy of the last output: changing the returned batch in place
    changes nothing downstream of it."""
    frames = clip.output
    a, b = TemporalSmoother(), TemporalSmoother()
    out_a = a(frames[:3])
    with torch.inference_mode():  # the smoother's output is an inference tensor
        b(frames[:3]).mul_(0.0)
    # (not bit for bit: the affine fit's lstsq rounds a little differently from run to run)
    assert torch.allclose(a(frames[3:5]), b(frames[3:5]), atol=1e-4)
    assert out_a.data_ptr() != frames.data_ptr()


def test_luma_matches_the_weighted_sum():
    frames = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(6))
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    expected = (frames * w).sum(1, keepdim=True)
    assert torch.allclose(luma(frames), expected, atol=1e-6)
    assert torch.allclose(luma(frames.contiguous(memory_format=torch.channels_last)), expected,
                          atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_smoother_on_cuda_computes_what_it_does_on_the_cpu(rippled):
    """The same stream on the GPU, with the network's inputs beside it (the pipeline's form
    there): the frames never leave the device, and the result is the CPU's up to float
    rounding (a quarter of an 8-bit level)."""
    frames, inputs = rippled.output, rippled.inputs
    on_cpu = TemporalSmoother()(frames, inputs)
    on_gpu = TemporalSmoother()(frames.cuda(), inputs.cuda())
    assert on_gpu.is_cuda
    assert (on_gpu.cpu() - on_cpu).abs().max() < 1e-3
