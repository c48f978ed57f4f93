"""Screen content renderers: shapes, determinism, variety, kind selection and scroll strips."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from streamdemoire import synth
from streamdemoire.synth import content
from streamdemoire.synth.content import CONTENT_KINDS, render_content, render_scroll_strip, text

ALL_KINDS = CONTENT_KINDS + ("mixed",)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize(("height", "width"), [(1, 1), (17, 33), (64, 48), (200, 320)])
def test_every_kind_renders_uint8_rgb_of_the_requested_size(kind, height, width):
    image = render_content(kind, np.random.default_rng(3), height, width)
    assert image.shape == (height, width, 3)
    assert image.dtype == np.uint8


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_same_seed_gives_the_same_image(kind):
    first = render_content(kind, np.random.default_rng(11), 96, 128)
    second = render_content(kind, np.random.default_rng(11), 96, 128)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_different_seeds_give_different_images(kind):
    images = [render_content(kind, np.random.default_rng(seed), 96, 128) for seed in range(3)]
    assert not np.array_equal(images[0], images[1]) or not np.array_equal(images[1], images[2])


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_content_is_not_blank(kind):
    image = render_content(kind, np.random.default_rng(5), 160, 200)
    assert image.std() > 5


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown content kind"):
        render_content("poster", np.random.default_rng(0), 32, 32)
    with pytest.raises(ValueError, match="unknown content kind"):
        render_scroll_strip("poster", np.random.default_rng(0), 32, 32, 8)


def test_mixed_picks_photos_about_forty_percent_of_the_time():
    rng = np.random.default_rng(0)
    picks = [content._resolve_kind("mixed", rng) for _ in range(2000)]
    assert 0.33 < picks.count("photo") / len(picks) < 0.47
    assert set(picks) == set(CONTENT_KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_scroll_strip_is_taller_by_extra(kind):
    strip = render_scroll_strip(kind, np.random.default_rng(2), 60, 80, 150)
    assert strip.shape == (210, 80, 3)
    assert strip.dtype == np.uint8


def test_scroll_strip_is_deterministic_and_rejects_negative_extra():
    first = render_scroll_strip("text", np.random.default_rng(4), 50, 70, 30)
    second = render_scroll_strip("text", np.random.default_rng(4), 50, 70, 30)
    np.testing.assert_array_equal(first, second)
    assert render_scroll_strip("code", np.random.default_rng(4), 50, 70, 0).shape == (50, 70, 3)
    with pytest.raises(ValueError, match="extra"):
        render_scroll_strip("text", np.random.default_rng(4), 50, 70, -1)


def test_renders_without_dejavu_fonts(monkeypatch):
    """A fresh CI machine may lack fonts-dejavu-core: PIL's built-in font must stand in."""
    caches = (text._font_path, text._pil_font, text._glyph, text._word_bitmap,
              text._line_height, text._space_width)
    monkeypatch.setattr(text, "_FONT_DIRS", ())
    for cache in caches:
        cache.cache_clear()
    try:
        for kind in ("text", "code", "spreadsheet"):
            image = render_content(kind, np.random.default_rng(1), 80, 120)
            assert image.shape == (80, 120, 3)
            assert image.std() > 5
    finally:
        for cache in caches:
            cache.cache_clear()


def test_source_digest_follows_every_module_of_the_simulator(tmp_path):
    """The clip caches key on it: an edit to a content module must change it too."""
    tree = tmp_path / "synth"
    shutil.copytree(Path(synth.__file__).parent, tree, ignore=shutil.ignore_patterns("__pycache__"))
    before = synth.source_digest(tree)
    assert before == synth.source_digest()
    for module in (tree / "content" / "text.py", tree / "camera.py"):
        original = module.read_text()
        module.write_text(original + "\n# edited\n")
        assert synth.source_digest(tree) != before
        module.write_text(original)
    assert synth.source_digest(tree) == before
