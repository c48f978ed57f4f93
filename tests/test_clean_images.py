"""``clean`` on still photos: orientation from EXIF, the format from the output's suffix,
and the same one-line errors and all-or-nothing output as for videos."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from conftest import pattern
from PIL import Image
from test_clean_errors import assert_failed_cleanly

EXIF_ORIENTATION = 0x0112
ROTATED_90_CW = 6  # the pixels are stored sideways; viewers turn them 90 degrees clockwise


@pytest.mark.parametrize("out_name, fmt", [("out.png", "PNG"), ("out.jpg", "JPEG"),
                                            ("out.webp", "WEBP")])
def test_photo_is_cleaned_into_the_format_of_the_output_suffix(clean, tmp_path, out_name, fmt):
    src = tmp_path / "photo.png"
    Image.fromarray(pattern(2, 70, 45)).save(src)
    result = clean(src, "-o", tmp_path / out_name, "--json")
    assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / out_name) as out:
        assert out.format == fmt and out.size == (70, 45) and out.mode == "RGB"
        if fmt == "PNG":  # lossless, and the identity model changes nothing
            assert np.array_equal(np.asarray(out), pattern(2, 70, 45))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["photo.png", out_name])


def test_exif_orientation_is_applied(clean, tmp_path):
    src = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_90_CW
    Image.fromarray(pattern(0, 64, 40)).save(src, exif=exif, quality=98)
    result = clean(src, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (40, 64)  # upright: the sideways 64x40 sensor image turned


def test_default_output_keeps_the_photo_format(clean, tmp_path):
    src = tmp_path / "shot.jpg"
    Image.fromarray(pattern(1, 48, 32)).save(src)
    assert clean(src).exit_code == 0
    with Image.open(tmp_path / "shot_clean.jpg") as out:
        assert out.format == "JPEG"


def test_text_file_named_png_is_one_line(clean, tmp_path):
    src = tmp_path / "notes.png"
    src.write_text("not a picture")
    result = clean(src, "-o", tmp_path / "out.png")
    assert_failed_cleanly(result, tmp_path, "not a readable image", src)


def test_photo_into_a_video_container_is_refused(clean, tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(pattern(0, 32, 32)).save(src)
    result = clean(src, "-o", tmp_path / "out.mp4")
    assert_failed_cleanly(result, tmp_path, "an image input needs an image output", src)


def test_the_photo_gets_the_permissions_the_umask_gives(clean, tmp_path):
    """Written under a temporary name and renamed: the file must still be as readable as any
    other the user makes (a private 0600, as ``tempfile.mkstemp`` makes, was the bug)."""
    src = tmp_path / "shot.png"
    Image.fromarray(pattern(1, 48, 32)).save(src)
    old = os.umask(0o027)
    try:
        assert clean(src, "-o", tmp_path / "out.jpg").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.jpg").stat().st_mode) == 0o640


def test_the_summary_line_speaks_of_one_image(clean, tmp_path):
    src = tmp_path / "shot.png"
    Image.fromarray(pattern(1, 48, 32)).save(src)
    result = clean(src, "-o", tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path / 'out.png'}: one image in ")
    assert "frames" not in result.stdout and "fps" not in result.stdout
