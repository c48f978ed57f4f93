"""The camera simulator: exact geometry of the clean twin, alignment with the moiré frame,
determinism, every display layout, and moiré that appears only where physics says it should.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.registration import phase_cross_correlation

from streamdemoire.synth import camera
from streamdemoire.synth.camera import (
    LAYOUTS,
    SHADING_FIELDS,
    CameraParams,
    _sample_shading,
    _shading,
    content_size_for,
    h264_roundtrip,
    render_pair,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


#: A neutral phone: no tone change (display gamma 2.2 undone by the same camera gamma), no
#: noise, no compression, so the clean twin reproduces content values exactly.
NEUTRAL = dict(gamma=2.2, contrast=0.0, exposure=1.0, wb_r=1.0, wb_b=1.0, shot_noise=0.0,
               read_noise=0.0, sharpen=0.0, defocus=0.0, jpeg_quality=None)


def _random_content(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _blocks(seed: int, h: int, w: int, block: int = 8) -> np.ndarray:
    """Random flat blocks: structure at every scale above ``block``, for registration."""
    small = _random_content(seed, -(-h // block), -(-w // block))
    return np.kron(small, np.ones((block, block, 1), dtype=np.uint8))[:h, :w]


def _render(content, params, h, w, seed=0):
    return render_pair(content, params, h, w, np.random.default_rng(seed))


def _srgb_to_linear(img: np.ndarray) -> np.ndarray:
    return (img / 255.0) ** 2.2


def test_identity_pose_clean_twin_is_the_content():
    """One display pixel per output pixel, no pose: the clean twin is the content itself."""
    content = _random_content(1, 24, 32)
    _, clean = _render(content, CameraParams(pitch=1.0, sensor_scale=1.0, **NEUTRAL), 24, 32)
    np.testing.assert_array_equal(clean, content)


def test_view_lands_where_centre_places_it():
    """In content 10 pixels wider and taller, centre 0.3 puts the view 3 pixels in."""
    content = _random_content(2, 34, 42)
    params = CameraParams(pitch=1.0, sensor_scale=1.0, centre_x=0.3, centre_y=0.7, **NEUTRAL)
    _, clean = _render(content, params, 24, 32)
    np.testing.assert_array_equal(clean, content[7:31, 3:35])


def test_integer_zoom_averages_display_pixels_in_linear_light():
    """Two display pixels per output pixel: each output pixel is the 2 x 2 mean of light."""
    content = _random_content(3, 32, 48)
    _, clean = _render(content, CameraParams(pitch=1.0, sensor_scale=2.0, **NEUTRAL), 16, 24)
    lin = _srgb_to_linear(content).reshape(16, 2, 24, 2, 3).mean(axis=(1, 3))
    expected = np.round(255 * lin ** (1 / 2.2))
    assert np.abs(clean.astype(float) - expected).max() <= 1


def test_quarter_turn_is_an_exact_rotation():
    """Rotating the camera by 90 degrees permutes pixels exactly (a rotation, not a flip)."""
    content = _random_content(4, 32, 32)
    params = CameraParams(pitch=1.0, sensor_scale=1.0, rotation_deg=90.0, **NEUTRAL)
    _, clean = _render(content, params, 32, 32)
    np.testing.assert_array_equal(clean, np.rot90(content, k=1))


@pytest.mark.parametrize("pose", [
    dict(rotation_deg=7.0, tilt_x=0.15, tilt_y=-0.1, k1=0.1),
    dict(rotation_deg=-3.0, tilt_x=-0.2, tilt_y=0.05, k1=-0.12),
])
def test_moire_and_clean_stay_aligned_under_pose_and_distortion(pose):
    """Tilted, rotated and distorted: the moiré frame's low-pass is the clean twin's, with no
    shift between them."""
    h, w = 72, 96
    params = CameraParams(pitch=1.6, sensor_scale=2.0, blur=0.4, **pose,
                          **{**NEUTRAL, "shot_noise": 0.002, "read_noise": 0.003})
    content = _blocks(5, 260, 330)
    moire, clean = _render(content, params, h, w)
    low_m = gaussian_filter(moire.astype(float), sigma=(2.5, 2.5, 0))
    low_c = gaussian_filter(clean.astype(float), sigma=(2.5, 2.5, 0))
    assert np.mean(np.abs(low_m - low_c)) < 4.0  # a 1-pixel shift gives 8
    shift, _, _ = phase_cross_correlation(clean.mean(-1), moire.mean(-1), upsample_factor=10)
    assert np.abs(shift).max() <= 0.2


def test_same_seed_same_frames_other_seed_other_noise():
    params = CameraParams.sample(np.random.default_rng(6))
    content = _blocks(6, 200, 300)
    a = _render(content, params, 40, 64, seed=11)
    b = _render(content, params, 40, 64, seed=11)
    c = _render(content, params, 40, 64, seed=12)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(a[1], c[1])  # the clean twin has no noise


@pytest.mark.parametrize("strip_samples", [1, 700, 5000])
def test_rendering_in_strips_changes_no_pixel(monkeypatch, strip_samples):
    """The sensor is sampled and demosaicked a strip of rows at a time to bound its memory;
    strips of one sensor row, of three, or of 23 with a short last one (the sensor has 130
    rows of 216) must give the frames one strip gives."""
    params = replace(CameraParams.sample(np.random.default_rng(8)), sensor_scale=2.7,
                     jpeg_quality=None, h264_crf=None)
    content = _blocks(8, *content_size_for(params, 48, 80))
    whole = _render(content, params, 48, 80, seed=3)
    monkeypatch.setattr(camera, "SENSOR_STRIP_SAMPLES", strip_samples)
    in_strips = _render(content, params, 48, 80, seed=3)
    np.testing.assert_array_equal(in_strips[0], whole[0])
    np.testing.assert_array_equal(in_strips[1], whole[1])


def test_sampled_params_are_deterministic():
    assert CameraParams.sample(np.random.default_rng(7)) == \
        CameraParams.sample(np.random.default_rng(7))


def _flat_white_moire(**overrides) -> tuple[np.ndarray, np.ndarray]:
    """A flat grey screen filled edge to edge: any structure in the moiré frame is moiré."""
    params = CameraParams(**{**NEUTRAL, "sensor_scale": 1.0, "blur": 0.3, **overrides})
    content = np.full((*content_size_for(params, 64, 96), 3), 200, dtype=np.uint8)
    moire, clean = _render(content, params, 64, 96)
    return moire.astype(float), clean.astype(float)


def _low_frequency_energy(diff: np.ndarray, cutoff: float = 0.1) -> float:
    """Mean power of ``diff`` (per channel, DC removed) below ``cutoff`` cycles per pixel."""
    h, w = diff.shape[:2]
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    low = (np.hypot(fy, fx) < cutoff) & ((fy != 0) | (fx != 0))
    spectrum = np.abs(np.fft.fft2(diff - diff.mean(axis=(0, 1)), axes=(0, 1))) ** 2
    return float(spectrum[low].sum() / (h * w) ** 2)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_renders_moire(layout):
    """A display pixel just over two sensor pixels beats into slow, strong bands on every
    layout (the subpixels' harmonics alias against the sensor and its Bayer period)."""
    moire, clean = _flat_white_moire(layout=layout, pitch=2.04)
    assert moire.shape == clean.shape == (64, 96, 3)
    assert np.ptp(clean) == 0  # flat content stays flat in the clean twin
    assert _low_frequency_energy(moire - clean) > 100.0


def test_fine_pitch_under_strong_blur_makes_almost_no_moire():
    """Display pixels far below the lens's resolution blur into a uniform glow: no beat."""
    moire, clean = _flat_white_moire(pitch=0.3, blur=2.0)
    assert _low_frequency_energy(moire - clean) < 0.05
    assert np.abs(moire - clean).max() <= 2


def test_rgb_and_bgr_stripes_differ():
    """Swapping the stripe order changes the colour of the fringes."""
    rgb, _ = _flat_white_moire(layout="rgb", pitch=2.04)
    bgr, _ = _flat_white_moire(layout="bgr", pitch=2.04)
    assert np.abs(rgb - bgr).mean() > 5.0


def test_shading_darkens_the_moire_frame_but_not_the_twin():
    """Vignetting and viewing-angle falloff are artefacts of filming: the twin stays even."""
    moire, clean = _flat_white_moire(pitch=0.3, blur=2.0, vignette=0.3, falloff_x=0.3,
                                     colour_drift=(0.2, 0.0, 0.0, 0.0))
    assert np.ptp(clean) == 0
    left, right = moire[:, :16].mean(axis=(0, 1)), moire[:, -16:].mean(axis=(0, 1))
    assert right[1] > left[1] + 10  # brighter towards +x
    assert (right[0] - left[0]) > (right[1] - left[1]) + 5  # red drifts more than green
    corner, centre = moire[:8, :8, 1].mean(), moire[28:36, 44:52, 1].mean()
    assert corner < centre - 5


def test_an_unshaded_camera_differs_in_its_shading_alone():
    rng = np.random.default_rng(3)
    drawn = {}
    while not drawn:  # a tenth of the draws leave shading out
        drawn = _sample_shading(rng)
    assert set(drawn) == set(SHADING_FIELDS)  # unshaded() resets every field the draw sets
    params = CameraParams.sample(np.random.default_rng(4))
    shaded = CameraParams(**{**params.to_dict(), **drawn})
    unshaded = shaded.unshaded()
    assert np.ptp(_shading(shaded, 36, 64).numpy()) > 0.1
    assert np.all(_shading(unshaded, 36, 64).numpy() == 1.0)
    kept = {k: v for k, v in unshaded.to_dict().items() if k not in SHADING_FIELDS}
    assert kept == {k: v for k, v in params.to_dict().items() if k not in SHADING_FIELDS}


def test_auto_exposure_meters_the_clipped_frame():
    """A bright page whose moiré peaks clip: the phone's metering sees the clipped frame, so
    the moiré frame records the same mean light as its twin instead of a darker one."""
    params = CameraParams(**{**NEUTRAL, "sensor_scale": 1.0, "blur": 0.2, "pitch": 2.04,
                             "fill_x": 0.6, "fill_y": 0.6})
    content = np.full((*content_size_for(params, 64, 96), 3), 200, dtype=np.uint8)
    moire, clean = _render(content, params, 64, 96)
    linear = [(img / 255.0) ** 2.2 for img in (moire, clean)]
    assert linear[0].std() > 0.1  # strong moiré, clipped at its peaks
    assert linear[0].mean() == pytest.approx(linear[1].mean(), abs=0.005)  # was 0.07 darker


def test_h264_roundtrip_keeps_odd_sizes_and_loses_more_at_higher_crf():
    content = data.astronaut()[100:163, 100:181]  # a photo: 4:2:0 keeps its chroma
    errors = []
    for crf in (14, 34):
        out = h264_roundtrip(content, crf)
        assert out.shape == content.shape and out.dtype == np.uint8
        errors.append(np.abs(out.astype(float) - content).mean())
    assert 0 < errors[0] < errors[1]
    assert errors[0] < 4  # a light crf stays close: the frame is not shifted or recoloured


def test_training_pairs_see_jpeg_h264_and_uncompressed_frames():
    rng = np.random.default_rng(0)
    kinds = [("jpeg" if p.jpeg_quality else "h264" if p.h264_crf else "none")
             for p in (CameraParams.sample(rng) for _ in range(200))]
    assert {"jpeg", "h264", "none"} == set(kinds)
    assert kinds.count("h264") > 40
