"""The luma sharpening after the network: what it changes, what it leaves, and that every
entry point takes its amount."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamdemoire.api import Demoirer
from streamdemoire.quality import text_sharpness
from streamdemoire.sharpen import blur3, sharpen_
from streamdemoire.worker.jobs import JobFailed, JobOptions

#: Rec. 601 luma weights, as the sharpening and the text-sharpness measure take luma.
LUMA = (0.299, 0.587, 0.114)


def edge_frames() -> torch.Tensor:
    frames = torch.full((1, 3, 16, 16), 0.4)
    frames[..., 8:] = 0.6
    return frames


def test_flat_frames_are_left_alone():
    flat = torch.full((2, 3, 8, 12), 0.4)
    torch.testing.assert_close(sharpen_(flat.clone(), 0.3), flat)


def test_an_edge_gains_over_and_undershoot_and_nothing_away_from_it():
    sharp = sharpen_(edge_frames(), 0.3)
    assert sharp[..., 7].max() < 0.4 < 0.6 < sharp[..., 8].min()
    torch.testing.assert_close(sharp[..., :6], edge_frames()[..., :6])
    torch.testing.assert_close(sharp[..., 10:], edge_frames()[..., 10:])


def test_colour_of_equal_luma_is_left_alone():
    """Stripes of a green and a magenta of the same luma: no luma detail, nothing added."""
    green = torch.tensor([0.3, 0.6, 0.3])
    magenta = torch.tensor([0.6, 0.3, 0.6]) * float(green @ torch.tensor(LUMA)) / float(
        torch.tensor([0.6, 0.3, 0.6]) @ torch.tensor(LUMA))
    stripes = torch.empty(1, 3, 8, 8)
    stripes[0, :, :, ::2] = green.view(3, 1, 1)
    stripes[0, :, :, 1::2] = magenta.view(3, 1, 1)
    torch.testing.assert_close(sharpen_(stripes.clone(), 0.3), stripes)


def test_zero_is_off_and_any_memory_layout_gives_the_same():
    frames = torch.rand(2, 3, 20, 30)
    torch.testing.assert_close(sharpen_(frames.clone(), 0.0), frames)
    plain = sharpen_(frames.clone(), 0.5)
    last = sharpen_(frames.clone().contiguous(memory_format=torch.channels_last), 0.5)
    torch.testing.assert_close(last, plain)
    assert plain.min() >= 0 and plain.max() <= 1


def test_blur_is_a_normalised_gaussian_with_replicated_edges():
    impulse = torch.zeros(1, 1, 5, 5)
    impulse[..., 2, 2] = 1.0
    kernel = blur3(impulse)[0, 0]
    assert torch.isclose(kernel.sum(), torch.tensor(1.0))
    assert kernel[2, 2] > kernel[1, 2] > kernel[1, 1] > 0 and kernel[0].abs().max() == 0
    torch.testing.assert_close(blur3(torch.full((1, 1, 4, 6), 0.7)), torch.full((1, 1, 4, 6), 0.7))


def test_demoirer_sharpens_text_by_its_amount(identity_checkpoint):
    """With the identity network, what comes out is the input sharpened, crisper with more."""
    rng = np.random.default_rng(0)
    frame = np.full((1, 32, 48, 3), 200, np.uint8)
    frame[0, 10:22, 8:40] = 40  # a dark bar: text-like edges
    frame = np.clip(frame.astype(int) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)
    plain = Demoirer(checkpoint=identity_checkpoint, sharpen=0)(frame)
    np.testing.assert_array_equal(plain, frame)
    crisp = [text_sharpness(Demoirer(checkpoint=identity_checkpoint, sharpen=a)(frame)[0],
                            frame[0]) for a in (0.3, 0.6)]
    assert 1.05 < crisp[0] < crisp[1]


def test_a_bad_amount_is_refused_everywhere(identity_checkpoint):
    with pytest.raises(ValueError, match="sharpen"):
        Demoirer(checkpoint=identity_checkpoint, sharpen=-0.1)
    with pytest.raises(ValueError, match="sharpen"):
        Demoirer(checkpoint=identity_checkpoint).for_stream(sharpen=3.0)
    with pytest.raises(JobFailed, match="sharpen"):
        JobOptions.from_dict({"sharpen": "lots"})
    options = JobOptions(sharpen=0.6)
    assert JobOptions.from_dict(options.to_dict()) == options
    stream = Demoirer(checkpoint=identity_checkpoint).for_stream(sharpen=0.6)
    assert stream.sharpen == 0.6


def test_clean_refuses_a_bad_amount_in_one_line(media, clean, tmp_path):
    result = clean(media.video(), "-o", tmp_path / "out.mp4", "--sharpen", "5")
    assert result.exit_code != 0 and "--sharpen" in result.output
    assert not (tmp_path / "out.mp4").exists()
