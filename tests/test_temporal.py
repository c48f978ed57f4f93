"""The temporal smoother: steadier, no ghosts, a clean restart at cuts (issue 5's Must show).

The smoother is tested on stand-in model outputs (tests/temporal_clips.py: a clean screen
filmed hand-held, plus a crawling leftover moiré and noise), never on the shipped model, so
the figures do not depend on how far its training has got.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import pattern
from temporal_clips import Clip, _antialias, render

from streamdemoire import quality, temporal
from streamdemoire.api import Demoirer
from streamdemoire.temporal import (
    DEFAULT_STRENGTH,
    TemporalSmoother,
    camera_motion,
    thumbnail,
    warp,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny frames gain nothing from threads, and on a busy machine spinning ones cost a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def smooth(frames: torch.Tensor, inputs: torch.Tensor | None, batch: int = 4,
           strength: float = DEFAULT_STRENGTH) -> tuple[torch.Tensor, TemporalSmoother]:
    """Run a fresh smoother over ``frames`` (with the network's ``inputs`` for them, as the
    pipeline hands it both) in batches, as the pipeline feeds it."""
    smoother = TemporalSmoother(strength)
    out = torch.cat([smoother(frames[i:i + batch],
                              None if inputs is None else inputs[i:i + batch])
                     for i in range(0, len(frames), batch)])
    return out, smoother


def masked_psnr(out: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> float:
    mask = mask.expand_as(truth)
    return 10 * math.log10(1.0 / float(((out - truth)[mask] ** 2).mean()))


@pytest.fixture(scope="module")
def handheld() -> Clip:
    return render(seed=0, n=12)


@pytest.fixture(scope="module")
def scrolling() -> Clip:
    return render(seed=1, n=12, scroll_px=3.0)


@pytest.fixture(scope="module")
def cut() -> Clip:
    return render(seed=2, n=10, cut_at=5)


@pytest.fixture(scope="module")
def photo() -> Clip:
    """Fine texture the camera aliases anew every frame, and an output that is nearly clean:
    noise of 0.002 only (54 dB), where the truth itself changes between frames by far more
    (36 dB between a frame and its predecessor warped by the camera's motion)."""
    return render(seed=3, n=12, photo=True, moire=0.0, noise=0.002)


def test_flicker_excess_halves_and_psnr_holds(handheld):
    out, smoother = smooth(handheld.output, handheld.inputs)
    before = quality.flicker(handheld.output, handheld.clean)
    after = quality.flicker(out, handheld.clean)
    assert before > 0.002  # the stand-in output does flicker
    assert after <= 0.5 * before
    assert quality.psnr(out, handheld.clean) >= quality.psnr(handheld.output, handheld.clean) - 0.2
    assert (quality.warping_error(out, handheld.clean)
            < quality.warping_error(handheld.output, handheld.clean))
    assert smoother.cuts == 0


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="a known limit: the fixed residual scale blends the truth's own "
                   "change in aliased texture into a nearly clean output (-3.1 and -2.5 dB); "
                   "see docs/temporal.md")
def test_photo_texture_that_changes_every_frame_costs_at_most_0_2_db(photo):
    """Issue 5's PSNR limit where smoothing has next to nothing to gain: the history's error
    there (the truth's own change in aliased texture, resampling) is larger than the frame's,
    so the weights would have to fall rather than blend it in. A scale measured per frame
    passes this (+1.0 and +0.05 dB) but stops smoothing leftover moiré that covers only part of
    the frame, so it was not kept; strict, so a fix that passes it shows."""
    flickering = photo.output
    # a leftover that follows the content rather than flickering: a slightly softer output
    soft = torch.stack([torch.from_numpy(_antialias(f.double().numpy())).float()
                        for f in photo.clean])
    steady = (photo.output + 0.3 * (soft - photo.clean)).clamp(0, 1)
    for per_frame in (flickering, steady):
        out, smoother = smooth(per_frame, photo.inputs)
        assert smoother.cuts == 0
        assert quality.psnr(out, photo.clean) >= quality.psnr(per_frame, photo.clean) - 0.2


def test_scrolling_pane_leaves_no_trail(scrolling):
    out, _ = smooth(scrolling.output, scrolling.inputs)
    mask = scrolling.pane
    assert mask[1:].sum() > 500  # the pane is in view on every frame
    # frame 0 is the stream's first, returned as is; the pane scrolls from then on
    before = masked_psnr(scrolling.output[1:], scrolling.clean[1:], mask[1:])
    after = masked_psnr(out[1:], scrolling.clean[1:], mask[1:])
    assert after >= before - 0.02
    # and the rest of the frame, which holds still on the screen, is still smoothed
    rest = ~mask[1:]
    assert (masked_psnr(out[1:], scrolling.clean[1:], rest)
            > masked_psnr(scrolling.output[1:], scrolling.clean[1:], rest))


def test_strong_colour_stripes_that_crawl_are_smoothed_too():
    """Stripes as strong as those the network leaves where the moiré was worst, where it
    took three times as much out of its input: the scales widen there, so they average out
    instead of keeping the history out. Without the inputs the smoother cannot tell them from
    content and keeps its narrow scales (a third of the flicker cut)."""
    clip = render(seed=0, n=12, moire=0.12)
    before = quality.flicker(clip.output, clip.clean)
    out, _ = smooth(clip.output, clip.inputs)
    assert quality.flicker(out, clip.clean) <= 0.3 * before
    assert quality.psnr(out, clip.clean) >= quality.psnr(clip.output, clip.clean) + 2.5
    narrow, _ = smooth(clip.output, None)
    assert quality.flicker(narrow, clip.clean) >= 0.6 * before


@pytest.mark.parametrize("moire", [0.12, 0.15])
def test_dark_text_scrolling_under_strong_stripes_leaves_no_trail(moire, monkeypatch):
    """Where the scales widen, a change mostly in brightness (dark text moving) still keeps
    them narrow. Without that guard the pane loses 3.5 and 2.3 dB."""
    clip = render(seed=1, n=12, scroll_px=3.0, moire=moire)
    mask = clip.pane[1:]

    def pane_change() -> float:
        out, _ = smooth(clip.output, clip.inputs)
        return (masked_psnr(out[1:], clip.clean[1:], mask)
                - masked_psnr(clip.output[1:], clip.clean[1:], mask))

    assert pane_change() >= -0.1
    monkeypatch.setattr(temporal, "BRIGHTNESS_CHANGE_RATIO", 1e9)
    assert pane_change() < -1.0


def moving_square(size: tuple[int, int]) -> torch.Tensor:
    """conftest's pattern: a yellow square moving 3-5 px a frame over a colourful gradient
    whose blue changes every frame, a change mostly in colour, with strong colour edges."""
    frames = torch.from_numpy(np.stack([pattern(i, *size) for i in range(8)]))
    return frames.permute(0, 3, 1, 2).float() / 255


def crawling_stripes(frames: torch.Tensor, amplitude: float) -> torch.Tensor:
    """Magenta and green stripes 3 px apart that move a frame's worth every frame."""
    n, _, h, w = frames.shape
    y, x = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    waves = torch.stack([torch.sin(2 * math.pi * (0.9 * x + 0.35 * y + 1.3 * t) / 3.0)
                         for t in range(n)])[:, None]
    return amplitude * waves * torch.tensor([1.0, -1.0, 1.0]).view(1, 3, 1, 1)


@pytest.mark.parametrize("size", [(64, 48), (160, 96)])
def test_a_coloured_object_moving_over_a_clean_screen_leaves_no_ghost(size):
    """Output = input = truth: the network removed nothing, so however colourful the change,
    the history keeps its narrow scales. Trusting history where the output's colour ripple
    is high and the change more in colour than in brightness, without asking the input
    (session 13, docs/temporal.md), ghosted the square here by up to 130 of 255; ~5 now."""
    frames = moving_square(size)
    out, smoother = smooth(frames, frames)
    assert smoother.cuts == 0
    assert float((out - frames).abs().amax()) < 16 / 255


@pytest.mark.parametrize("size", [(64, 48), (160, 96)])
def test_under_removed_moire_a_moving_coloured_edge_blurs_by_a_pixel_at_most(size):
    """The same square where the network took colour stripes out of its input and its output
    is the truth: there a change mostly in colour is taken for leftover moiré, and the
    history comes back as far as the clamp to the frame's 3 x 3 neighbourhood lets it, which
    is the pixel on either side of the square's edges, and nowhere else (docs/temporal.md)."""
    frames = moving_square(size)
    inputs = (frames + crawling_stripes(frames, 0.1)).clamp(0, 1)
    out, _ = smooth(frames, inputs)
    square = ((frames - torch.tensor([250, 250, 30]).view(1, 3, 1, 1) / 255).abs()
              .amax(1, keepdim=True) < 1e-3).float()
    grown = torch.nn.functional.max_pool2d(square, 3, 1, 1)
    shrunk = -torch.nn.functional.max_pool2d(-square, 3, 1, 1)
    edges = (grown - shrunk) > 0
    off = (out - frames).abs().amax(1, keepdim=True) > 16 / 255
    assert edges.any() and not (off & ~edges).any()


def test_inputs_of_another_shape_are_refused(handheld):
    with pytest.raises(ValueError, match="inputs of shape"):
        TemporalSmoother()(handheld.output[:2], handheld.inputs[:1])


def test_first_frame_after_a_cut_shows_nothing_of_the_last_scene(cut):
    out, smoother = smooth(cut.output, cut.inputs, batch=3)  # the cut falls inside a batch
    first = cut.scenes.index(1)
    assert smoother.cuts == 1
    assert torch.equal(out[first], cut.output[first])
    # the next frame smooths against the new scene only: no worse than the frame alone
    assert (quality.psnr(out[first + 1], cut.clean[first + 1])
            >= quality.psnr(cut.output[first + 1], cut.clean[first + 1]) - 0.05)


def test_batches_continue_one_stream(handheld):
    whole, _ = smooth(handheld.output, handheld.inputs, batch=len(handheld.output))
    single, _ = smooth(handheld.output, handheld.inputs, batch=1)
    # float32 reductions round a little differently from run to run (a few 1e-6 even between
    # two runs with the same batches); an 8-bit level is 4e-3
    assert torch.allclose(whole, single, atol=2e-5)


def test_reset_and_size_change_start_afresh(handheld):
    smoother = TemporalSmoother()
    frames = handheld.output
    smoother(frames[:3])
    assert not torch.equal(smoother(frames[3:4]), frames[3:4])  # smoothing
    smoother.reset()
    assert torch.equal(smoother(frames[4:5]), frames[4:5])
    smaller = frames[5:6, :, :64, :96]
    assert torch.equal(smoother(smaller), smaller)
    assert smoother.cuts == 0  # neither is a scene cut
    for tiny in (frames[6:8, :, :1, :1], frames[6:8, :, :8, :12]):  # too small to track
        assert torch.equal(smoother(tiny), tiny)


def test_strength_zero_is_off_and_bad_strengths_are_refused(handheld):
    out, _ = smooth(handheld.output, handheld.inputs, strength=0.0)
    assert torch.equal(out, handheld.output)
    for bad in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError):
            TemporalSmoother(bad)


def test_camera_motion_recovers_a_known_affine_map(handheld):
    frame = handheld.clean[:1]
    theta = torch.tensor([[0.998, 0.006, 0.02], [-0.005, 1.003, -0.015]])
    moved = warp(frame, theta)
    estimate = camera_motion(thumbnail(frame), thumbnail(moved))
    # in pixels of the 160 x 96 frame: the map at the corners agrees within a tenth of a pixel
    corners = torch.tensor([[-0.9, -0.9, 1.0], [0.9, -0.9, 1.0], [-0.9, 0.9, 1.0],
                            [0.9, 0.9, 1.0]])
    error = (corners @ (estimate - theta).T) * torch.tensor([80.0, 48.0])
    assert error.norm(dim=1).max() < 0.1


# --- quality measures ------------------------------------------------------------------------


def test_flicker_of_the_truth_is_zero_and_noise_adds_to_it(handheld):
    assert quality.flicker(handheld.clean, handheld.clean) == pytest.approx(0.0, abs=1e-12)
    assert quality.flicker(handheld.output, handheld.clean) > 0.002
    # uint8 H x W x 3 frames, as the benchmarks hold them, give the same figure
    as_uint8 = [(f.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                for f in handheld.output]
    truth = [(f.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for f in handheld.clean]
    assert quality.flicker(as_uint8, truth) == pytest.approx(
        quality.flicker(handheld.output, handheld.clean), abs=1e-3)


def test_flicker_skips_pairs_across_a_cut(cut):
    without = quality.temporal_difference(cut.clean, cut.scenes)
    across = quality.temporal_difference(cut.clean)
    assert across > without


def test_warping_error_is_small_for_the_truth_and_larger_with_flicker(handheld):
    truth = quality.warping_error(handheld.clean, handheld.clean)
    assert truth < quality.WARP_MASK_RESIDUAL
    assert quality.warping_error(handheld.output, handheld.clean) > truth + 0.005


# --- the library and the command line --------------------------------------------------------


def as_frames(frames: torch.Tensor) -> np.ndarray:
    return (frames.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def test_demoirer_keeps_the_history_across_calls(identity_checkpoint, handheld, monkeypatch):
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the engine asks for all
    frames = as_frames(handheld.output[:6])
    plain = Demoirer(checkpoint=identity_checkpoint, sharpen=0)
    smoothing = Demoirer(checkpoint=identity_checkpoint, temporal=True, sharpen=0)
    assert np.array_equal(plain(frames), frames)  # the identity model, no smoothing
    whole = smoothing(frames)
    smoothing.reset()
    parts = np.concatenate([smoothing(frames[:2]), smoothing(frames[2:])])
    # the network's float rounding depends a little on the batch size, so allow one level
    assert np.abs(whole.astype(int) - parts).max() <= 1
    assert not np.array_equal(whole[1:], frames[1:])
    smoothing.reset()
    assert np.array_equal(smoothing(frames[3:4]), frames[3:4])  # a new stream


def test_the_network_stage_keeps_its_input_only_for_the_smoother(identity_checkpoint,
                                                                 monkeypatch):
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)  # the engine asks for all
    frames = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    assert Demoirer(checkpoint=identity_checkpoint).infer(frames).inputs is None
    kept = Demoirer(checkpoint=identity_checkpoint, temporal=True).infer(frames).inputs
    assert torch.equal(kept, torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)


def test_clean_command_smooths_unless_told_not_to(clean, media, tmp_path):
    src = media.video("in.mkv", codec="ffv1", pix_fmt="bgr0")
    result = clean(src, "-o", tmp_path / "a.mkv", "--codec", "ffv1", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["temporal"] == pytest.approx(DEFAULT_STRENGTH)
    assert report["scene_cuts"] >= 0
    result = clean(src, "-o", tmp_path / "b.mkv", "--codec", "ffv1", "--no-temporal", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["temporal"] is None


def test_clean_command_refuses_a_strength_of_one(clean, media, tmp_path):
    src = media.video("in.mkv", codec="ffv1", pix_fmt="bgr0")
    result = clean(src, "-o", tmp_path / "a.mkv", "--temporal-strength", "1")
    assert result.exit_code == 2
    assert "temporal-strength" in result.stderr
