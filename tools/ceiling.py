#!/usr/bin/env python3
"""How far the model's output is from the clean frame, and how much of that is coarse light.

The simulated benchmark (tools/evaluate.py) says how much the model gains; this says where the
rest of the error lies, so that an idea can be weighed before it is trained. For each frame it
scores the model's output as it is and twice more, each time with one part of its error taken
away by an oracle that knows the clean frame, and the input once more:

- "clean's light": the output multiplied by the clean frame's local mean over its own
  (``--light-side`` px boxes, 33 by default): every error coarser than that is gone, shading
  and long-period moiré alike, and what is left is fine detail;
- "clean's shading": the output divided by the smooth per-colour gain that best explains it
  against the clean frame, a log-polynomial in the frame's coordinates (the simulator's own
  vignetting and viewing-angle falloff lie in that family, streamdemoire/synth/camera.py):
  what a perfect per-frame shading estimate would give, and nothing more;
- "input, clean's shading": the same oracle on the input, with no network at all;

and, to see what the network does where there is nothing to remove, the model run on the clean
frame itself ("clean in"). Under each table, "two oracles" is the mean over clips of the better
of "clean's shading" and "input, clean's shading": a perfect shading estimate together with a
perfect choice, clip by clip, of whether to run the network; what this network could reach
if both could be read from the frames.

``--shading-twins N`` asks the question behind the coarse error directly: N shots per size are
each filmed twice by the simulator, with their camera's shading and without it, all else equal,
and the model runs on both. "shading left" is how much of the difference between the two inputs'
coarse light comes through to the outputs (0: the outputs' coarse light is the same whatever
the shading; 1: the shading passes untouched); the unshaded shot's scores say what removing
shading costs a frame that had none.

    python tools/ceiling.py                          # the benchmark's clips, both sizes
    python tools/ceiling.py --held-out 28            # 28 other clips per size
    python tools/ceiling.py --checkpoint runs/r53/step1500.pt --sizes 1280x720
    python tools/ceiling.py --real ../shared/real-val  # the real pairs, raw PSNR
    python tools/ceiling.py --shading-twins 14       # shots with and without their shading

Clips come from (and go into) tools/evaluate.py's cache, so after a benchmark run this only
runs the model (twice a frame): 22 s for the benchmark on two cores; 2.2 minutes for
``--held-out 28`` with its clips rendered too; 1.5 minutes for ``--shading-twins 14`` at both
sizes (its shots are rendered each time, twice). Per size it also draws a picture
(``--out``/ceiling_SIZE.png): one frame of each clip whole, with its coarse error before the
network, after it, and after the shading oracle, for where a table's figure comes from.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate  # noqa: E402  (the benchmark's clips, sizes and cache)

from streamdemoire.api import Demoirer  # noqa: E402
from streamdemoire.model.checkpoint import CheckpointError  # noqa: E402
from streamdemoire.quality import as_float, psnr  # noqa: E402
from streamdemoire.sharpen import DEFAULT_AMOUNT  # noqa: E402
from streamdemoire.synth.camera import CameraParams, render_pair  # noqa: E402
from streamdemoire.synth.pairs import content_for_view  # noqa: E402

#: Side of the block means the shading fit sees (pixels): coarse enough to average out the
#: moiré that is left, fine enough for a vignette's curve.
SHADING_BLOCK = 16

COLUMNS = ("input", "model", "clean's light", "clean's shading", "input, clean's shading",
           "clean in")

#: The picture (``--out``/ceiling_*.png): one frame per clip, whole and shrunk, and each one's
#: coarse error (its ``--light-side`` local mean minus the clean frame's) on grey, amplified.
PICTURE_COLUMNS = ["input", "model", "clean", "input's coarse error", "model's coarse error",
                   "model's, shading taken out"]
PICTURE_WIDTH = 320
ERROR_GAIN = 4.0

#: ``--shading-twins N``: shot k is seed TWIN_SEED_BASE + k (apart from the benchmark's, the
#: held-out clips' and the trainer's seeds), its kind evaluate.HELD_OUT_KINDS[k % 7]; cameras
#: are drawn until one vignettes by TWIN_MIN_VIGNETTE or more, so every shot has shading.
TWIN_SEED_BASE = 7401
TWIN_MIN_VIGNETTE = 0.3
TWIN_COLUMNS = ("shaded: input", "shaded: model", "unshaded: input", "unshaded: model",
                "shading left")
TWIN_PICTURE_COLUMNS = ["shaded input", "model", "unshaded input", "model", "clean",
                        "unshaded model's coarse error"]
#: Side (px) of the block means whose light "shading left" compares.
TWIN_BLOCK = 32


def with_clean_light(out: np.ndarray, clean: np.ndarray, side: int) -> np.ndarray:
    """``out`` with its local mean light (``side`` px boxes, per colour) replaced by ``clean``'s."""
    def local_mean(img: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(img, size=(side, side, 1), mode="reflect")
    return np.clip(out * local_mean(clean) / np.maximum(local_mean(out), 1e-3), 0.0, 1.0)


@functools.lru_cache(maxsize=4)
def shading_basis(height: int, width: int) -> np.ndarray:
    """H x W x 11 terms of a smooth gain's log: 1, x, y, the quadratics, the cubics and r^4,
    over coordinates scaled by the half diagonal as the simulator's shading is.

    Kept per size (read-only): every frame of a size shares it, and building it is most of
    an oracle's cost at 720p (0.16 of 0.22 s), which each frame pays twice (output and input).
    """
    half_diag = 0.5 * np.hypot(height, width)
    y, x = np.meshgrid((np.arange(height) - (height - 1) / 2) / half_diag,
                       (np.arange(width) - (width - 1) / 2) / half_diag, indexing="ij")
    r2 = x * x + y * y
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y, x ** 3, y ** 3,
                      x * x * y, x * y * y, r2 * r2], axis=-1)
    basis.flags.writeable = False
    return basis


def block_means(img: np.ndarray, block: int) -> np.ndarray:
    """Per-colour means of the whole ``block`` x ``block`` blocks of an H x W x 3 image."""
    hb, wb = img.shape[0] // block, img.shape[1] // block
    return img[:hb * block, :wb * block].reshape(hb, block, wb, block, 3).mean((1, 3))


def without_shading(out: np.ndarray, clean: np.ndarray, block: int = SHADING_BLOCK
                    ) -> np.ndarray:
    """``out`` divided by the smooth per-colour gain that best maps ``clean`` onto it.

    Fitted by least squares on the log of block means (brighter blocks weigh more: their log
    is less noisy), over the whole blocks of the frame; applied to every pixel.
    """
    h, w, _ = out.shape
    hb, wb = h // block, w // block
    basis = shading_basis(h, w)
    at_blocks = basis[block // 2::block, block // 2::block][:hb, :wb].reshape(-1, basis.shape[-1])
    out_b, clean_b = block_means(out, block), block_means(clean, block)
    result = np.empty_like(out)
    for c in range(3):
        log_gain = (np.log(np.maximum(out_b[..., c], 1e-3))
                    - np.log(np.maximum(clean_b[..., c], 1e-3))).reshape(-1)
        weight = np.sqrt(np.maximum(clean_b[..., c], 0.02)).reshape(-1)
        coef = np.linalg.lstsq(at_blocks * weight[:, None], log_gain * weight, rcond=None)[0]
        result[..., c] = out[..., c] * np.exp(-(basis @ coef))
    return np.clip(result, 0.0, 1.0)


def shading_twins(seed: int, kind: str, height: int, width: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One shot filmed twice, with its camera's shading and without: (shaded, unshaded, clean).

    Content, pose, moiré, noise (the same generator state) and compression are shared, so the
    two frames differ by the shading alone; the simulator's clean twin has no shading, so
    both share it too.
    """
    rng = np.random.default_rng(seed)
    params = CameraParams.sample(rng)
    while params.vignette < TWIN_MIN_VIGNETTE:
        params = CameraParams.sample(rng)
    content = content_for_view(kind, params, height, width, rng)
    shaded, clean = render_pair(content, params, height, width, np.random.default_rng([seed, 1]))
    unshaded, _ = render_pair(content, params.unshaded(), height, width,
                              np.random.default_rng([seed, 1]))
    return shaded, unshaded, clean


def shading_left(shaded_out: np.ndarray, unshaded_out: np.ndarray, shaded_in: np.ndarray,
                 unshaded_in: np.ndarray, block: int = TWIN_BLOCK) -> float:
    """How much of the shading a model passed on, from its runs on a pair of shading twins
    (float images in [0, 1]).

    The least-squares slope of the outputs' coarse log-light difference on the inputs' (per
    colour, frame means taken out, as the exposure is the camera's): 0 when the two outputs
    have the same coarse light whatever the shading was, 1 when it came through as it went in.
    """
    def log_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = (np.log(np.maximum(block_means(a, block), 1e-3))
             - np.log(np.maximum(block_means(b, block), 1e-3)))
        return d - d.mean((0, 1))
    d_in = log_difference(shaded_in, unshaded_in)
    d_out = log_difference(shaded_out, unshaded_out)
    return float((d_out * d_in).sum() / max(float((d_in * d_in).sum()), 1e-12))


def column_images(model: Demoirer, sample: evaluate.Sample, clean: np.ndarray,
                  light_side: int) -> dict[str, np.ndarray]:
    """The float H x W x 3 image each of :data:`COLUMNS` scores against ``clean`` (the
    sample's clean frame as float)."""
    out = as_float(model(sample.moire[None])[0])
    return {"input": as_float(sample.moire), "model": out,
            "clean's light": with_clean_light(out, clean, light_side),
            "clean's shading": without_shading(out, clean),
            "input, clean's shading": without_shading(as_float(sample.moire), clean),
            "clean in": as_float(model(sample.clean[None])[0])}


def as_picture(img: np.ndarray, width: int = PICTURE_WIDTH) -> np.ndarray:
    """A float image as uint8, shrunk (box filter) to about ``width`` pixels across."""
    picture = Image.fromarray((np.clip(img, 0.0, 1.0) * 255).round().astype(np.uint8))
    return np.array(picture.reduce(max(1, img.shape[1] // width)))


def coarse_error(img: np.ndarray, clean: np.ndarray, side: int) -> np.ndarray:
    """``img``'s local mean (``side`` px boxes) minus ``clean``'s, amplified on grey: what a
    picture shows of an error in the coarse light."""
    error = ndimage.uniform_filter(img - clean, size=(side, side, 1), mode="reflect")
    return 0.5 + ERROR_GAIN * error


def picture_row(images: dict[str, np.ndarray], clean: np.ndarray, side: int
                ) -> list[np.ndarray]:
    """:data:`PICTURE_COLUMNS` for one frame: where its coarse error lies, before and after."""
    return [as_picture(img) for img in (
        images["input"], images["model"], clean, coarse_error(images["input"], clean, side),
        coarse_error(images["model"], clean, side),
        coarse_error(images["clean's shading"], clean, side))]


def scored(samples: list[evaluate.Sample], model: Demoirer, light_side: int
           ) -> tuple[list[float], list[np.ndarray]]:
    """The samples' mean scores, and the picture row of the middle one."""
    scores, row = [], []
    for i, sample in enumerate(samples):
        clean = as_float(sample.clean)
        images = column_images(model, sample, clean, light_side)
        scores.append([psnr(images[c], clean) for c in COLUMNS])
        if i == len(samples) // 2:
            row = picture_row(images, clean, light_side)
    return np.mean(scores, axis=0).tolist(), row


def size_table(size: evaluate.BenchmarkSize, model: Demoirer, args: argparse.Namespace
               ) -> tuple[dict[str, list[float]], list[tuple[str, list[np.ndarray]]]]:
    """Each clip's mean scores and their mean over the clips (as the benchmark averages), and
    a picture row per clip."""
    table, rows = {}, []
    for seed, kind in evaluate.progress(size.clips, f"clips {size.label}"):
        samples = evaluate.clip_samples(seed, kind, size, args.fps, args.every, args.cache)
        table[f"{seed} {kind}"], row = scored(samples, model, args.light_side)
        rows.append((f"{size.label} seed {seed} {kind}", row))
    table["mean"] = np.mean(list(table.values()), axis=0).tolist()
    return table, rows


def real_table(directory: Path, model: Demoirer, light_side: int
               ) -> tuple[dict[str, list[float]], list[tuple[str, list[np.ndarray]]]]:
    """The same for the real pairs in ``directory`` (tools/evaluate.py --real's)."""
    pairs, _ = evaluate.real_samples(directory)
    if not pairs:
        raise evaluate.EvaluationError(f"no NAME_moire.png with a NAME_clean.png twin in "
                                       f"{directory}")
    table, rows = {}, []
    for sample in pairs:
        table[sample.name], row = scored([sample], model, light_side)
        rows.append((sample.name, row))
    table["mean"] = np.mean(list(table.values()), axis=0).tolist()
    return table, rows


def twins_table(size: evaluate.BenchmarkSize, model: Demoirer, count: int, light_side: int
                ) -> tuple[dict[str, list[float]], list[tuple[str, list[np.ndarray]]]]:
    """:data:`TWIN_COLUMNS` for ``count`` pairs of shading twins at ``size``, and their mean."""
    table, rows = {}, []
    shots = evaluate.seeds_and_kinds(TWIN_SEED_BASE, evaluate.HELD_OUT_KINDS, count)
    for seed, kind in evaluate.progress(shots, f"shading twins {size.label}"):
        shots_in = shading_twins(seed, kind, size.height, size.width)
        shots_out = model(np.stack(shots_in[:2]))
        shaded, unshaded, clean = (as_float(img) for img in shots_in)
        shaded_out, unshaded_out = (as_float(img) for img in shots_out)
        table[f"{seed} {kind}"] = [psnr(shaded, clean), psnr(shaded_out, clean),
                                   psnr(unshaded, clean), psnr(unshaded_out, clean),
                                   shading_left(shaded_out, unshaded_out, shaded, unshaded)]
        rows.append((f"{size.label} seed {seed} {kind}", [as_picture(img) for img in (
            shaded, shaded_out, unshaded, unshaded_out, clean,
            coarse_error(unshaded_out, clean, light_side))]))
    table["mean"] = np.mean(list(table.values()), axis=0).tolist()
    return table, rows


def two_oracles(table: dict[str, list[float]]) -> float:
    """Mean over the clips of a :data:`COLUMNS` table of the better of "clean's shading" and
    "input, clean's shading": both oracles at once, the shading and whether to run the network."""
    with_net, without = COLUMNS.index("clean's shading"), COLUMNS.index("input, clean's shading")
    return float(np.mean([max(row[with_net], row[without])
                          for clip, row in table.items() if clip != "mean"]))


def format_table(label: str, table: dict[str, list[float]], columns: tuple[str, ...] = COLUMNS
                 ) -> str:
    widths = [len(c) + 2 for c in columns]
    lines = [f"{label:16s}" + "".join(f"{c:>{w}s}" for c, w in zip(columns, widths, strict=True))]
    lines += [f"{clip:16s}" + "".join(f"{v:{w}.2f}" for v, w in zip(row, widths, strict=True))
              for clip, row in table.items()]
    return "\n".join(lines)


def show_oracle_table(label: str, report: dict) -> None:
    """Print ``report[label]`` (a :data:`COLUMNS` table) and its two-oracle bound under it,
    and keep the bound in ``report["two oracles"]``."""
    table = report[label]
    bound, start = two_oracles(table), table["mean"][COLUMNS.index("input")]
    report.setdefault("two oracles", {})[label] = bound
    print(format_table(label, table))
    print(f"two oracles, {label}: {bound:.2f} dB ({bound - start:+.2f} over the input): "
          f"clean's shading, and for each clip the better of running the network or not")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="model checkpoint (default: the shipped one)")
    p.add_argument("--sharpen", type=float, default=DEFAULT_AMOUNT)
    p.add_argument("--sizes", help="comma-separated WIDTHxHEIGHT (default: the benchmark's)")
    p.add_argument("--real", type=Path, metavar="DIR",
                   help="the real pairs in DIR instead (NAME_moire.png, NAME_clean.png)")
    p.add_argument("--held-out", type=int, default=None, metavar="N",
                   help="N other short clips per size, as tools/evaluate.py --held-out")
    p.add_argument("--shading-twins", type=int, default=None, metavar="N",
                   help="N shots per size filmed with and without their shading instead")
    p.add_argument("--every", type=int, default=None,
                   help="score every k-th frame (default 5; 1 with --held-out)")
    p.add_argument("--light-side", type=int, default=33,
                   help="box side (px) of the clean light the first oracle puts in")
    p.add_argument("--cache", type=Path, default=Path("runs/eval/clips"),
                   help="tools/evaluate.py's clip cache")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--out", type=Path, default=Path("runs/ceiling"),
                   help="the pictures go here (ceiling_SIZE.png, ceiling_real.png)")
    p.add_argument("--json", type=Path, default=None, help="also write the tables here")
    args = p.parse_args(argv)
    if args.held_out is not None and not 1 <= args.held_out <= evaluate.HELD_OUT_MAX:
        p.error(f"--held-out takes 1 to {evaluate.HELD_OUT_MAX} clips")
    if args.shading_twins is not None and not 1 <= args.shading_twins <= evaluate.HELD_OUT_MAX:
        p.error(f"--shading-twins takes 1 to {evaluate.HELD_OUT_MAX} shots")
    if args.shading_twins is not None and (args.real or args.held_out is not None):
        p.error("--shading-twins films shots of its own: not with --real or --held-out")
    if args.light_side < 3 or args.light_side % 2 == 0:
        p.error("--light-side takes an odd number of pixels, 3 or more")
    args.every = args.every or (1 if args.held_out else 5)
    args.clips, args.seconds = None, None  # evaluate.plan_sizes reads them: the full clips
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = {}
    try:
        sizes = [] if args.real else evaluate.plan_sizes(args)
        model = Demoirer(checkpoint=args.checkpoint, sharpen=args.sharpen, temporal=False)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.real:
            report["real"], rows = real_table(args.real, model, args.light_side)
            show_oracle_table("real", report)
            path = evaluate.save_grid(args.out / "ceiling_real.png", rows, PICTURE_COLUMNS)
            print(f"picture: {path}")
    except (evaluate.EvaluationError, CheckpointError, ValueError) as exc:
        print(f"ceiling.py: error: {exc}", file=sys.stderr)
        return 2
    args.cache = args.cache / evaluate.simulator_version()
    for size in sizes:
        if args.shading_twins:
            report[size.label], rows = twins_table(size, model, args.shading_twins,
                                                   args.light_side)
            print(format_table(size.label, report[size.label], TWIN_COLUMNS))
            picture_columns, name = TWIN_PICTURE_COLUMNS, "twins"
        else:
            report[size.label], rows = size_table(size, model, args)
            show_oracle_table(size.label, report)
            picture_columns, name = PICTURE_COLUMNS, "ceiling"
        path = evaluate.save_grid(args.out / f"{name}_{size.label}.png", rows, picture_columns)
        print(f"picture: {path}\n", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
