#!/usr/bin/env bash
# The whole GPU path on a machine with an NVIDIA GPU, in one command:
#
#   1. what is here (backends, devices, versions);
#   2. the GPU tests (pytest -m "gpu or tensorrt"; they skip where TensorRT is missing);
#   3. a TensorRT engine built with tools/build_engine.py (skipped, saying why, without
#      TensorRT and pycuda);
#   4. a short simulated clip cleaned with `streamdemoire clean` on each backend;
#   5. each GPU backend's output compared with torch on the CPU in fp32, on the same
#      decoded frames: max |diff| <= MAX_TOL and mean |diff| <= MEAN_TOL (RGB in [0, 1];
#      fp16 rounding through the network is ~1e-3 mean, a few 1e-2 at worst);
#   6. model throughput (frames already on the GPU, batch 4) at 1280x720 and 1920x1080.
#
# Usage: tools/gpu_check.sh [--skip-tests]      (WORK=dir keeps the clip and outputs)
# Exit status: 0 when every check that could run passed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
WORK=${WORK:-$(mktemp -d)}
MAX_TOL=${MAX_TOL:-0.05}
MEAN_TOL=${MEAN_TOL:-0.005}
export WORK MAX_TOL MEAN_TOL
mkdir -p "$WORK"

echo "== environment"
$PY -c "from streamdemoire.info import gather, render; print(render(gather()))"

if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "SKIP: torch sees no CUDA GPU; nothing GPU-specific to check here"
  exit 0
fi

if [[ "${1:-}" != "--skip-tests" ]]; then
  echo "== GPU tests"
  $PY -m pytest -q -p no:cacheprovider -m "gpu or tensorrt" tests/test_engines_tensorrt.py
fi

BACKENDS="torch"
TRT_WHY=$($PY -c "from streamdemoire.engine.select import tensorrt_missing; print(tensorrt_missing() or '')")
if [[ -z "$TRT_WHY" ]]; then
  echo "== TensorRT engine (fp16, default profile)"
  $PY tools/build_engine.py
  BACKENDS="torch tensorrt"
else
  echo "SKIP tensorrt: $TRT_WHY"
fi

echo "== test clip"
$PY - <<'EOF'
import os
import av
import numpy as np
from streamdemoire.engine.onnx_export import real_frames

frames, source = real_frames([(360, 640)] * 12, seed=4242)
with av.open(os.path.join(os.environ["WORK"], "clip.mp4"), "w") as out:
    stream = out.add_stream("libx264", rate=24, options={"crf": "12"})
    stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
    for f in frames:
        rgb = (f[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
        out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
    out.mux(stream.encode())
print(f"clip.mp4: 12 frames 640x360 from {source}")
EOF

echo "== streamdemoire clean on each backend"
for backend in $BACKENDS; do
  streamdemoire clean "$WORK/clip.mp4" -o "$WORK/clean_$backend.mp4" \
    --backend "$backend" --device cuda --json -q | tail -n 1
done

echo "== parity with torch fp32 on the CPU, and throughput"
BACKENDS="$BACKENDS" $PY - <<'EOF'
import os
import sys
import time

import av
import numpy as np
import torch

from streamdemoire.engine import create_engine, frames_to_tensor

work, max_tol, mean_tol = os.environ["WORK"], float(os.environ["MAX_TOL"]), float(os.environ["MEAN_TOL"])
with av.open(os.path.join(work, "clip.mp4")) as clip:
    frames = np.stack([f.to_ndarray(format="rgb24") for f in clip.decode(video=0)])

reference = create_engine("torch", "cpu")
with torch.inference_mode():
    ref = reference(frames_to_tensor(frames, reference.device))

failed = False
for backend in os.environ["BACKENDS"].split():
    engine = create_engine(backend, "cuda", note=lambda line: print("  note:", line))
    with torch.inference_mode():
        out = engine(frames_to_tensor(frames, engine.device)).float().cpu()
    diff = (out - ref).abs()
    ok = diff.max() <= max_tol and diff.mean() <= mean_tol
    failed |= not ok
    print(f"{engine.describe()}: max |diff| {diff.max():.4f} (<= {max_tol}), "
          f"mean {diff.mean():.5f} (<= {mean_tol}) {'ok' if ok else 'FAILED'}")
    for h, w in ((720, 1280), (1080, 1920)):
        batch = torch.rand(4, 3, h, w, device=engine.device)
        with torch.inference_mode():
            for _ in range(3):
                engine(batch)
            torch.cuda.synchronize()
            start, runs = time.perf_counter(), 10
            for _ in range(runs):
                engine(batch)
            torch.cuda.synchronize()
        fps = 4 * runs / (time.perf_counter() - start)
        print(f"  {w}x{h}: {fps:.1f} fps (model only, batch 4, frames on the GPU)")
sys.exit(1 if failed else 0)
EOF
echo "gpu_check: all checks passed (work files in $WORK)"
