"""Sanity of the quality measures the benchmarks are judged by."""

import numpy as np

from streamdemoire import quality


def smooth_image(h: int = 64, w: int = 80) -> np.ndarray:
    """A deterministic uint8 test image with gradients and a few hard edges."""
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    img = np.stack([xx, yy, 0.5 + 0.4 * np.sin(6 * xx + 3 * yy)], axis=-1)
    img[h // 4:h // 2, w // 4:w // 2] = (0.9, 0.1, 0.2)
    return (img * 255).round().astype(np.uint8)


def test_psnr_identical_is_capped_and_noise_lowers_it():
    img = smooth_image()
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 8, img.shape), 0, 255)
    assert quality.psnr(img, img) >= 100
    assert 25 < quality.psnr(noisy.astype(np.uint8), img) < 35


def test_psnr_of_a_known_error():
    a = np.zeros((8, 8, 3))
    assert abs(quality.psnr(a + 0.1, a) - 20.0) < 1e-9


def test_ssim_is_one_for_identical_and_lower_for_noise():
    img = smooth_image()
    noisy = np.clip(img + np.random.default_rng(1).normal(0, 20, img.shape), 0, 255)
    assert quality.ssim(img, img) > 0.999
    assert quality.ssim(noisy.astype(np.uint8), img) < 0.9


def test_fitted_psnr_ignores_a_global_colour_map():
    """A tone / white-balance change costs raw PSNR but not colour-fitted PSNR."""
    clean = smooth_image().astype(np.float64) / 255
    matrix = np.array([[0.8, 0.1, 0.0], [0.05, 0.7, 0.1], [0.0, 0.1, 0.75]])
    mapped = clean @ matrix.T + np.array([0.1, 0.05, 0.12])
    assert quality.psnr(mapped, clean) < 25
    assert quality.fitted_psnr(mapped, clean) > 60


def test_text_sharpness_is_one_for_clean_and_drops_with_blur():
    from scipy import ndimage

    img = np.full((64, 64, 3), 255, np.uint8)
    img[10:50:6, 8:56] = 0  # text-like horizontal strokes
    blurred = ndimage.gaussian_filter(img.astype(float), (1.5, 1.5, 0)).round().astype(np.uint8)
    assert quality.text_mask(img).any()
    assert abs(quality.text_sharpness(img, img) - 1.0) < 1e-9
    assert quality.text_sharpness(blurred, img) < 0.7


def test_text_sharpness_is_nan_without_text():
    flat = np.full((16, 16, 3), 128, np.uint8)
    assert np.isnan(quality.text_sharpness(flat, flat))
