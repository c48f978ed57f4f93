"""The evaluation tool and the classical baselines it compares the model with."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from streamdemoire import classical, quality
from streamdemoire.model.checkpoint import save_checkpoint
from streamdemoire.model.net import DemoireNet

ROOT = Path(__file__).resolve().parents[1]


def load_evaluate():
    """tools/evaluate.py as a module (tools/ is not a package), to call its main() in-process."""
    spec = importlib.util.spec_from_file_location("evaluate", ROOT / "tools" / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["evaluate"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def natural_image(h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth float image in [0, 1] with soft blobs and one hard edge, free of periodicity."""
    yy, xx = np.mgrid[0:h, 0:w] / 64.0
    r = 0.5 + 0.3 * np.exp(-((xx - 0.7) ** 2 + (yy - 0.6) ** 2) * 3)
    g = 0.4 + 0.3 * np.tanh(3 * (xx - yy))
    b = 0.3 + 0.4 * (xx > 1.2)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 1)


def with_moire(clean: np.ndarray, amplitude: float = 0.12) -> np.ndarray:
    """``clean`` plus a coloured sinusoid at an off-grid frequency, like a straight moiré."""
    h, w = clean.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    wave = amplitude * np.sin(2 * np.pi * (0.137 * xx + 0.211 * yy))
    return np.clip(clean + wave[..., None] * np.array([1.0, -0.6, 0.4]), 0, 1)


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (img * 255).round().astype(np.uint8)


@pytest.mark.parametrize("name", list(classical.PARAM_GRIDS))
def test_classical_filters_keep_shape_and_dtype(name):
    fn, grid = classical.PARAM_GRIDS[name]
    img = to_uint8(with_moire(natural_image(40, 54)))
    for params in grid:
        out = fn(img, **params)
        assert out.shape == img.shape and out.dtype == np.uint8


def test_notch_removes_a_periodic_pattern():
    clean = to_uint8(natural_image())
    moire = to_uint8(with_moire(natural_image()))
    before = quality.psnr(moire, clean)
    after = quality.psnr(classical.notch(moire, threshold=1.5), clean)
    assert after > before + 6.0


def test_notch_leaves_an_image_without_peaks_alone():
    clean = to_uint8(natural_image())
    assert quality.psnr(classical.notch(clean, threshold=1.5), clean) > 45


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained network: the tool's plumbing is under test here, not the model."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, DemoireNet(), {"note": "test"})
    return path


def write_real_dir(directory: Path) -> None:
    """Two aligned pairs (with a colour cast, as real photos have) and one photo alone."""
    for i, (h, w) in enumerate([(64, 64), (48, 80)]):
        clean = natural_image(h, w)
        cast = with_moire(clean) * np.array([0.9, 1.0, 0.8]) + 0.05
        Image.fromarray(to_uint8(clean)).save(directory / f"p{i}_clean.png")
        Image.fromarray(to_uint8(np.clip(cast, 0, 1))).save(directory / f"p{i}_moire.png")
    Image.fromarray(to_uint8(with_moire(natural_image(64, 64)))).save(directory / "x_moire.png")


def test_real_mode_writes_json_and_grids(tmp_path, checkpoint):
    data, out = tmp_path / "real", tmp_path / "out"
    data.mkdir()
    write_real_dir(data)
    code = load_evaluate().main(["--real", str(data), "--checkpoint", str(checkpoint),
                                 "--out", str(out), "--sharpen", "0.5"])
    assert code == 0
    report = json.loads((out / "eval_real.json").read_text())
    assert report["sharpen"] == 0.5
    assert [p["name"] for p in report["pairs"]] == ["p0", "p1"]
    assert report["photos"] == ["x"]
    for key in ("input", "model"):
        assert set(report[key]) == {"psnr", "fitted_psnr"}
    assert set(report["classical"]) == set(classical.PARAM_GRIDS)
    assert report["best_classical"] in report["classical"]
    assert set(report["model_gain_db"]) == {"psnr", "fitted_psnr"}
    assert set(report["pairs"][0]) >= {"input", "best_classical", "model", "model_gain_db"}
    # the colour cast costs raw PSNR, and the colour fit takes it back
    assert report["input"]["fitted_psnr"] > report["input"]["psnr"] + 3
    for grid in report["grids"]:
        assert Image.open(grid).size[0] > 64
    assert {Path(g).name for g in report["grids"]} == {"grid_real_pairs.png",
                                                       "grid_real_photos.png"}


def test_a_sharpen_out_of_range_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        load_evaluate().main(["--real", str(tmp_path), "--sharpen", "-1"])
    assert exit_.value.code == 2 and "--sharpen" in capsys.readouterr().err


@pytest.mark.parametrize("make_dir", [False, True])
def test_real_mode_fails_in_one_line_without_images(tmp_path, capsys, make_dir):
    target = tmp_path / "empty"
    if make_dir:
        target.mkdir()
    assert load_evaluate().main(["--real", str(target)]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("evaluate.py: error:") and "\n" not in err


def test_simulated_quick_mode_writes_json(tmp_path, checkpoint):
    out = tmp_path / "out"
    code = load_evaluate().main(["--quick", "--sizes", "128x72", "--clips", "1",
                                 "--seconds", "0.1", "--every", "2",
                                 "--checkpoint", str(checkpoint), "--out", str(out),
                                 "--cache", str(tmp_path / "clips")])
    assert code == 0
    report = json.loads((out / "eval_simulated.json").read_text())
    section = report["sizes"]["128x72"]
    assert section["frames"] >= 1
    assert set(section["input"]) >= {"psnr", "ssim"}
    assert section["model"]["latency_ms"] > 0
    assert set(section["model_gain_db"]) == {"vs_input", "vs_best_classical"}
    (clip_scores,) = section["per_clip_psnr"].values()
    assert set(clip_scores) == {"input", section["best_classical"], "model"}
    assert clip_scores["input"] == pytest.approx(section["input"]["psnr"])
    assert Path(section["grid"]).is_file()


def test_held_out_clips_are_new_seeds_scored_every_frame():
    evaluate = load_evaluate()
    args = evaluate.parse_args(["--held-out", "9", "--sizes", "640x360,1280x720,320x180"])
    plan = evaluate.plan_sizes(args)
    assert args.every == 1
    benchmark_seeds = {seed for size in evaluate.BENCHMARK for seed, _ in size.clips}
    seeds = [seed for size in plan for seed, _ in size.clips]
    assert len(seeds) == len(set(seeds)) == 27  # no clip twice, across sizes too
    assert not set(seeds) & (benchmark_seeds | set(range(900, 924)))
    assert max(seeds) < 1_000_000  # below every training seed
    for size in plan:
        assert size.seconds == evaluate.HELD_OUT_SECONDS
        kinds = [kind for _, kind in size.clips]
        assert kinds[:7] == list(evaluate.HELD_OUT_KINDS) and kinds[7:] == kinds[:2]


def test_temporal_held_out_clips_are_other_whole_clips():
    evaluate = load_evaluate()
    clips = evaluate.temporal_held_out(7)
    seeds = [clip.seed for clip in clips]
    other_sets = ({clip.seed for clip in evaluate.TEMPORAL_CLIPS}
                  | {seed for size in evaluate.BENCHMARK for seed, _ in size.clips}
                  | set(range(900, 924)) | set(range(evaluate.HELD_OUT_SEED_BASE["640x360"],
                                                   evaluate.HELD_OUT_OTHER_SIZES + 100)))
    assert len(set(seeds)) == 7 and not set(seeds) & other_sets
    assert evaluate.temporal_held_out(evaluate.HELD_OUT_MAX)[-1].seed < 1_000_000
    kinds = [clip.kind for clip in clips]
    assert kinds[:5] == list(evaluate.TEMPORAL_HELD_OUT_KINDS) and kinds[5:] == kinds[:2]
    assert all(clip.seconds == evaluate.TEMPORAL_HELD_OUT_SECONDS for clip in clips)


@pytest.mark.parametrize("count", ["0", "101"])
def test_held_out_count_out_of_range_is_refused(count, capsys):
    with pytest.raises(SystemExit):
        load_evaluate().parse_args(["--held-out", count])
    assert "--held-out takes 1 to 100 clips" in capsys.readouterr().err


def test_temporal_summary_table_and_plot(tmp_path):
    """The temporal report's pieces on made-up scores (whole clips take minutes to render)."""
    evaluate = load_evaluate()
    scores = {"psnr": 30.0, "flicker": 0.004, "flicker_stabilised": 0.003,
              "warping_error": 0.02, "moving_psnr": 28.0}
    better = {**scores, "psnr": 30.5, "flicker": 0.001, "flicker_stabilised": 0.001}
    result = {"per_frame": scores, "smoothed": better, "cut_frames_untouched": True,
              "temporal_ms_per_frame": 3.0}
    clips = [{"seed": 3, "kind": "text", "model": result, "stand-in": result}]
    summary = evaluate.temporal_summary(clips, "model")
    assert summary["flicker_cut"] == pytest.approx(0.75)
    steady = {**scores, "flicker": -0.002}
    smoothed_below = {**steady, "flicker": -0.003}
    quiet = {"seed": 4, "kind": "code", "model": {**result, "per_frame": steady,
                                                   "smoothed": smoothed_below}}
    # A clip that flickers less than its truth adds nothing to cut, before or after.
    assert evaluate.temporal_summary([*clips, quiet], "model")["flicker_cut"] == (
        pytest.approx(0.75))
    assert summary["psnr_change_db"] == pytest.approx(0.5)
    assert all(summary["targets_met"].values())
    report = {"size": "64x48", "strength": 0.9, "fps": 30.0, "clips": clips, "model": summary,
              "stand_in": summary, "load_average": (1.0, 1.0, 1.0),
              "cost_1280x720": {"model_ms": 100.0, "temporal_ms": 40.0, "torch_threads": 1}}
    assert "flicker excess cut 75%" in evaluate.temporal_table(report)
    plot = evaluate.flicker_plot(tmp_path / "f.png", {"a": [0.0, 0.1, 0.05], "b": [0, 0.2, 0]},
                                 "test")
    assert Image.open(plot).size == (720, 300)


def test_flicker_grid_shows_where_the_output_flickers(tmp_path):
    """The temporal grid's crop lands where the per-frame output changes and the truth does
    not, on the frame where it changes most, and a cut's pair is never the one shown."""
    evaluate = load_evaluate()
    truth = torch.full((6, 3, 40, 60), 0.5)
    per_frame = truth.clone()
    per_frame[3, :, 20:30, 40:50] = 0.9  # a flash in one corner, on frame 3
    per_frame[5] = 0.0  # frame 5 starts a new scene: its change does not count
    scenes = [0, 0, 0, 0, 0, 1]
    t, top, left, side = evaluate.flicker_crop(truth, per_frame, scenes, side=16)
    assert t in (3, 4) and side == 16
    assert top <= 20 and top + side >= 30 and left <= 40 and left + side >= 50
    caption, cells = evaluate.flicker_row("clip", truth, per_frame, per_frame, scenes)
    assert len(cells) == len(evaluate.FLICKER_COLUMNS)
    assert all(c.shape == (40, 40, 3) and c.dtype == np.uint8 for c in cells)
    grid = evaluate.save_grid(tmp_path / "g.png", [(caption, cells)], evaluate.FLICKER_COLUMNS)
    assert Image.open(grid).size[0] == 6 * 40 + 5 * 4


def test_classical_rows_come_back_from_the_cache_for_the_same_frames_only(tmp_path, monkeypatch):
    """A second run on the same frames reuses the grid search's scores (the search would take
    most of a benchmark run); other frames search again."""
    evaluate = load_evaluate()
    clean = (natural_image() * 255).round().astype(np.uint8)
    moire = (with_moire(natural_image()) * 255).round().astype(np.uint8)
    samples = [evaluate.Sample(f"clip #{i}", np.roll(moire, 3 * i, axis=1), clean, "text")
               for i in range(3)]
    metrics = {"psnr": quality.psnr, "ssim": quality.ssim}
    first = evaluate.run_classical(samples, metrics, "psnr", {1}, tmp_path)
    assert len(list(tmp_path.glob("classical_*.json"))) == 1

    def no_search(*args, **kwargs):
        raise AssertionError("searched the grid again")

    monkeypatch.setattr(evaluate, "search_classical", no_search)
    again = evaluate.run_classical(samples, metrics, "psnr", {1}, tmp_path)
    for a, b in zip(first, again, strict=True):
        assert (a.label, a.setting, a.params, a.tuning) == (b.label, b.setting, b.params, b.tuning)
        assert a.means == pytest.approx(b.means, nan_ok=True)
        assert json.dumps(a.per_sample) == json.dumps(b.per_sample)  # NaN: no text edges
        assert a.outputs.keys() == b.outputs.keys() == {1}
        assert np.array_equal(a.outputs[1], b.outputs[1])
    assert evaluate.best_of(again, "psnr").label == evaluate.best_of(first, "psnr").label
    other = [evaluate.Sample(s.name, s.moire[::-1].copy(), s.clean, s.kind) for s in samples]
    with pytest.raises(AssertionError, match="searched the grid again"):
        evaluate.run_classical(other, metrics, "psnr", {1}, tmp_path)
