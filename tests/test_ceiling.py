"""tools/ceiling.py: the oracles that split the model's error into coarse light and the rest."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamdemoire.quality import psnr

ROOT = Path(__file__).resolve().parents[1]


def load_ceiling():
    """tools/ceiling.py as a module (tools/ is not a package; it imports tools/evaluate.py)."""
    sys.path.insert(0, str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("ceiling", ROOT / "tools" / "ceiling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def textured(h: int = 96, w: int = 160, seed: int = 0) -> np.ndarray:
    """A float image in (0, 1) with fine random detail on a mid-grey level."""
    rng = np.random.default_rng(seed)
    return np.clip(0.5 + 0.15 * rng.standard_normal((h, w, 3)), 0.05, 0.95)


def vignetted(img: np.ndarray, strength: float = 0.6, slope: float = 0.3) -> np.ndarray:
    """``img`` under a vignette and a left-to-right falloff, the simulator's kind of shading."""
    h, w, _ = img.shape
    half_diag = 0.5 * np.hypot(h, w)
    y, x = np.meshgrid((np.arange(h) - (h - 1) / 2) / half_diag,
                       (np.arange(w) - (w - 1) / 2) / half_diag, indexing="ij")
    gain = (1 - strength * (x * x + y * y)) * (1 + slope * x)
    return img * gain[..., None] * np.array([1.0, 0.95, 0.9])


def test_the_shading_oracle_takes_out_shading_and_only_shading():
    ceiling = load_ceiling()
    clean = textured()
    shaded = vignetted(clean)
    assert psnr(shaded, clean) < 25
    assert psnr(ceiling.without_shading(shaded, clean), clean) > 45
    # Fine error that no smooth gain explains stays where it was.
    noisy = np.clip(clean + 0.05 * np.random.default_rng(1).standard_normal(clean.shape), 0, 1)
    before = psnr(noisy, clean)
    assert abs(psnr(ceiling.without_shading(noisy, clean), clean) - before) < 0.1


def test_the_light_oracle_takes_out_coarse_error_of_any_shape_but_not_fine_error():
    ceiling = load_ceiling()
    clean = textured()
    h, w, _ = clean.shape
    yy, xx = np.mgrid[0:h, 0:w]
    bands = 1 + 0.3 * np.sin(2 * np.pi * xx / 120.0)[..., None] * np.array([1.0, -0.5, 0.2])
    banded = np.clip(clean * bands, 0, 1)  # long-period colour bands: no polynomial fits them
    fixed = ceiling.with_clean_light(banded, clean, side=9)
    assert psnr(fixed, clean) > psnr(banded, clean) + 10
    assert psnr(ceiling.without_shading(banded, clean), clean) < psnr(fixed, clean)
    stripes = np.clip(clean + 0.1 * ((xx % 2) - 0.5)[..., None], 0, 1)  # finer than any box
    assert (psnr(ceiling.with_clean_light(stripes, clean, side=9), clean)
            < psnr(stripes, clean) + 1)


def test_a_small_run_prints_and_writes_every_column(tmp_path, capsys):
    ceiling = load_ceiling()
    out = tmp_path / "ceiling.json"
    code = ceiling.main(["--sizes", "128x72", "--held-out", "1", "--cache", str(tmp_path / "c"),
                         "--json", str(out), "--out", str(tmp_path)])
    assert code == 0
    picture = Image.open(tmp_path / "ceiling_128x72.png")
    assert picture.width == 6 * 128 + 5 * 4  # whole frames, one column per PICTURE_COLUMNS
    report = json.loads(out.read_text())["128x72"]
    assert set(report) == {"7201 code", "mean"}
    row = report["mean"]
    assert len(row) == len(ceiling.COLUMNS)
    model, light = row[1], row[2]
    assert light >= model - 0.5  # the clean frame's light can only bring the output nearer
    printed = capsys.readouterr().out
    assert "clean's shading" in printed and "two oracles, 128x72: " in printed


def test_a_missing_checkpoint_or_bad_size_is_one_line(tmp_path, capsys):
    ceiling = load_ceiling()
    assert ceiling.main(["--checkpoint", str(tmp_path / "none.pt"), "--sizes", "128x72"]) == 2
    assert ceiling.main(["--sizes", "13x7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("ceiling.py: error: ") for line in err)


def test_real_pairs_are_scored_and_a_shaded_pair_gains_from_the_shading_oracle(tmp_path):
    ceiling = load_ceiling()
    clean = textured(128, 192)
    for name, img in (("a_clean", clean), ("a_moire", vignetted(clean))):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(tmp_path / f"{name}.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "lone_moire.png")
    out = tmp_path / "real.json"
    assert ceiling.main(["--real", str(tmp_path), "--json", str(out),
                         "--out", str(tmp_path / "pictures")]) == 0
    assert (tmp_path / "pictures" / "ceiling_real.png").is_file()
    report = json.loads(out.read_text())
    assert set(report) == {"real", "two oracles"} and set(report["real"]) == {"a", "mean"}
    scores = dict(zip(ceiling.COLUMNS, report["real"]["a"], strict=True))
    assert scores["clean's shading"] > scores["model"] + 3
    # The pair differs by a smooth gain alone: the oracle on the input gives back the clean
    # photo (to its 8 bits), and so does the two-oracle bound.
    assert scores["input, clean's shading"] > 40
    assert report["two oracles"]["real"] == pytest.approx(scores["input, clean's shading"])


def test_two_oracles_take_the_better_of_running_the_network_or_not_clip_by_clip():
    ceiling = load_ceiling()
    def row(with_net: float, without: float) -> list[float]:
        scores = dict.fromkeys(ceiling.COLUMNS, 0.0)
        scores["clean's shading"], scores["input, clean's shading"] = with_net, without
        return list(scores.values())
    table = {"a": row(30.0, 25.0), "b": row(20.0, 36.0), "mean": row(25.0, 30.5)}
    assert ceiling.two_oracles(table) == pytest.approx((30.0 + 36.0) / 2)


def test_the_pictures_last_column_is_the_error_left_after_the_shading_oracle():
    ceiling = load_ceiling()
    clean = textured()
    shaded = vignetted(clean)
    images = {"input": shaded, "model": shaded,
              "clean's shading": ceiling.without_shading(shaded, clean)}
    row = ceiling.picture_row(images, clean, side=9)
    assert len(row) == len(ceiling.PICTURE_COLUMNS)
    model_error, left = (cell.astype(float) - 127.5 for cell in row[-2:])
    assert np.abs(model_error).mean() > 30  # the vignette, amplified
    assert np.abs(left).mean() < 5  # next to nothing coarse left: grey


def test_shading_twins_differ_by_a_smooth_gain_alone_and_share_their_clean_frame():
    ceiling = load_ceiling()
    shaded, unshaded, clean = ceiling.shading_twins(7402, "web", 144, 256)
    again = ceiling.shading_twins(7402, "web", 144, 256)
    assert all(np.array_equal(a, b) for a, b in zip((shaded, unshaded, clean), again, strict=True))
    ratio = (np.log(np.maximum(ceiling.block_means(shaded / 255, 16), 1e-3))
             - np.log(np.maximum(ceiling.block_means(unshaded / 255, 16), 1e-3)))
    basis = ceiling.shading_basis(144, 256)[8::16, 8::16].reshape(-1, 11)
    for c in range(3):
        target = ratio[..., c].reshape(-1)
        fit = basis @ np.linalg.lstsq(basis, target, rcond=None)[0]
        assert target.std() > 0.03  # there is shading (vignette 0.3 or more)
        assert np.mean((target - fit) ** 2) < 0.05 * target.var()  # and nothing else


def test_shading_left_is_one_for_a_pass_through_and_near_zero_for_the_oracle():
    ceiling = load_ceiling()
    shaded, unshaded, clean = (img / 255.0 for img in ceiling.shading_twins(7401, "code", 144,
                                                                              256))
    assert ceiling.shading_left(shaded, unshaded, shaded, unshaded) == 1.0
    deshaded = [ceiling.without_shading(img, clean) for img in (shaded, unshaded)]
    assert abs(ceiling.shading_left(*deshaded, shaded, unshaded)) < 0.1
    half = np.sqrt(shaded * unshaded)  # half of the log-gain taken out
    assert abs(ceiling.shading_left(half, unshaded, shaded, unshaded) - 0.5) < 0.05


def test_a_shading_twins_run_prints_and_writes_its_columns(tmp_path, capsys):
    ceiling = load_ceiling()
    out = tmp_path / "twins.json"
    assert ceiling.main(["--shading-twins", "1", "--sizes", "128x72", "--json", str(out),
                         "--out", str(tmp_path)]) == 0
    assert (tmp_path / "twins_128x72.png").is_file()
    report = json.loads(out.read_text())["128x72"]
    assert set(report) == {"7401 code", "mean"}
    assert len(report["mean"]) == len(ceiling.TWIN_COLUMNS)
    assert "shading left" in capsys.readouterr().out


def test_shading_twins_do_not_mix_with_other_sets(tmp_path, capsys):
    ceiling = load_ceiling()
    for other in (["--real", str(tmp_path)], ["--held-out", "2"]):
        with pytest.raises(SystemExit) as stop:
            ceiling.main(["--shading-twins", "2", *other])
        assert stop.value.code == 2
    assert capsys.readouterr().err.count("not with --real or --held-out") == 2
