#!/usr/bin/env bash
# Install streamdemoire into .venv, simulate a phone filming a screen (a moiré clip and its
# exact clean twin), clean the clip, and score both against the twin.
# Extra arguments go to `streamdemoire clean` (e.g. --codec ffv1).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q torch==2.13.0 -e .
mkdir -p out

streamdemoire synth out/sample.mp4 --clean out/sample_truth.mkv --size 640x360 --seconds 4 \
    --content mixed --seed 1
streamdemoire clean out/sample.mp4 -o out/sample_clean.mp4 "$@"
python - <<'PY'
"""Mean PSNR against the simulator's clean twin, before and after, and a side-by-side PNG."""
import av
import numpy as np
from PIL import Image

from streamdemoire.quality import psnr


def frames(path):
    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


moire, clean, truth = (frames(f"out/{name}") for name in
                       ("sample.mp4", "sample_clean.mp4", "sample_truth.mkv"))
before = np.mean([psnr(m, t) for m, t in zip(moire, truth)])
after = np.mean([psnr(c, t) for c, t in zip(clean, truth)])
middle = len(truth) // 2
Image.fromarray(np.concatenate([moire[middle], clean[middle]], 1)).save("out/before_after.png")
print(f"PSNR against the clean twin: before {before:.2f} dB, after {after:.2f} dB")
print("before: out/sample.mp4  after: out/sample_clean.mp4  side by side: out/before_after.png")
PY
