#!/usr/bin/env python3
"""Build a TensorRT engine for the demoiré network: export ONNX, check it, compile it.

1. Export ONNX (opset 17+): input ``frames`` float32 N x 3 x H x W in [0, 1], output
   ``clean``; N, H and W dynamic.
2. Check the fp32 graph with onnxruntime against PyTorch on real frames at two sizes; fail
   above 1e-3. A reduced-precision graph is checked too, against its own limit.
3. Build a strongly typed TensorRT engine (precision in the graph; see
   streamdemoire/engine/onnx_export.py) with an optimization profile, builder optimization
   level, workspace limit and a timing cache shared by all builds in --out.
4. Write <name>.onnx, <name>.engine and <name>.json (the manifest) into --out.

--onnx-only stops after step 2 and still writes the manifest (no engine recorded); it runs
on any machine. The default name is the engine cache key, so engines built into the
default --out are the ones ``--backend tensorrt``/``auto`` pick up.

    python tools/build_engine.py                       # shipped checkpoint, fp16
    python tools/build_engine.py --onnx-only           # export + parity check only
    python tools/build_engine.py runs/main/best.pt --precision int8 --calib frames/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from streamdemoire.engine.manifest import BuildParams, Profile, default_engine_dir, parse_shape
from streamdemoire.engine.onnx_export import ExportError, calibration_sha256, real_frames
from streamdemoire.engine.trt_build import BuildError, build_from_checkpoint
from streamdemoire.model.checkpoint import DEFAULT_CHECKPOINT, CheckpointError
from streamdemoire.model.net import STRIDE

#: Calibration frames are centre-cropped to at most this (multiples of STRIDE), which keeps
#: onnxruntime's calibration pass affordable on a CPU.
CALIB_MAX_HW = (544, 960)
CALIB_SYNTH_FRAMES = 16


def load_calibration(source: str) -> list[np.ndarray]:
    """int8 calibration batches (1 x 3 x H x W float32) from a folder of images, or
    ``synth`` for moiré simulator frames. Real footage from the target camera is best."""
    if source == "synth":
        frames, _ = real_frames([(256, 384)] * CALIB_SYNTH_FRAMES, seed=5000)
        return frames
    paths = sorted(p for p in Path(source).iterdir()
                   if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".webp"))
    if not paths:
        raise SystemExit(f"--calib {source}: no images found (png/jpg/bmp/webp)")
    return [_calibration_frame(np.asarray(Image.open(p).convert("RGB"))) for p in paths]


def _calibration_frame(rgb: np.ndarray) -> np.ndarray:
    h = min(rgb.shape[0], CALIB_MAX_HW[0]) // STRIDE * STRIDE
    w = min(rgb.shape[1], CALIB_MAX_HW[1]) // STRIDE * STRIDE
    if h == 0 or w == 0:
        raise SystemExit(f"calibration images must be at least {STRIDE} x {STRIDE} pixels")
    top, left = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
    crop = rgb[top:top + h, left:left + w].astype(np.float32) / 255.0
    return crop.transpose(2, 0, 1)[None].copy()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = Profile()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("checkpoint", nargs="?", type=Path, default=DEFAULT_CHECKPOINT,
                   help="checkpoint to build from (default: the shipped one)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: the engine cache, engines/ in a checkout)")
    p.add_argument("--name", help="file stem for .onnx/.engine/.json (default: cache key)")
    p.add_argument("--precision", choices=("fp16", "fp32", "bf16", "int8"), default="fp16")
    p.add_argument("--min", default="x".join(map(str, defaults.min)),
                   help="smallest input N x 3 x H x W (default %(default)s)")
    p.add_argument("--opt", default="x".join(map(str, defaults.opt)),
                   help="input shape TensorRT tunes for (default %(default)s)")
    p.add_argument("--max", default="x".join(map(str, defaults.max)),
                   help="largest input; larger frames are tiled (default %(default)s)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or later")
    p.add_argument("--opt-level", type=int, default=3, help="builder optimization level 0..5")
    p.add_argument("--workspace-mb", type=int, default=2048, help="builder workspace limit")
    p.add_argument("--calib", help="int8 calibration: a folder of frames, or 'synth'")
    p.add_argument("--device", type=int, default=0, help="CUDA device index to build for")
    p.add_argument("--onnx-only", action="store_true",
                   help="stop after the ONNX export and parity check (any machine)")
    p.add_argument("--verbose", action="store_true", help="TensorRT's verbose builder log")
    args = p.parse_args(argv)
    if args.opset < 17:
        p.error("--opset must be 17 or later")
    if args.precision == "int8" and not args.calib:
        p.error("--precision int8 needs --calib DIR (frames like the ones you will clean)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    calibration = load_calibration(args.calib) if args.precision == "int8" else None
    try:
        profile = Profile(parse_shape(args.min), parse_shape(args.opt), parse_shape(args.max))
        params = BuildParams(args.precision, profile, args.opset, args.opt_level,
                             args.workspace_mb,
                             calibration_sha256(calibration) if calibration else "")
    except ValueError as exc:
        print(f"build_engine: {exc}", file=sys.stderr)
        return 2
    try:
        manifest = build_from_checkpoint(args.checkpoint, args.out or default_engine_dir(),
                                         params, name=args.name, onnx_only=args.onnx_only,
                                         calibration=calibration,
                                         calibration_source=args.calib,
                                         device_index=args.device, verbose=args.verbose)
    except (ExportError, BuildError, CheckpointError) as exc:
        print(f"build_engine: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"build_engine: {exc.name or exc} is not installed; building an engine needs "
              "pip install 'streamdemoire[tensorrt]' (or use --onnx-only)", file=sys.stderr)
        return 1
    print(f"manifest: {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
