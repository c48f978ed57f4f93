#!/usr/bin/env bash
# Install streamdemoire into .venv, make a sample clip with moiré-like interference and a
# sound track, and clean it. Extra arguments go to `streamdemoire clean` (e.g. --codec ffv1).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q torch==2.13.0 -e .
mkdir -p out

# Until the moiré simulator has its command, a stand-in: two slightly different fine
# gratings beat into moiré bands that drift over a moving picture, with a 440 Hz tone.
python - <<'EOF'
from fractions import Fraction

import av
import numpy as np

W, H, FPS, FRAMES, RATE = 640, 360, 30, 60, 48000
y, x = np.mgrid[0:H, 0:W].astype(np.float32)
with av.open("out/sample.mp4", "w") as out:
    video = out.add_stream("libx264", rate=FPS, options={"crf": "18"})
    video.width, video.height, video.pix_fmt = W, H, "yuv420p"
    audio = out.add_stream("aac", rate=RATE)
    for i in range(FRAMES):
        scene = np.stack([x / W, y / H, np.full_like(x, 0.5 + 0.4 * np.sin(i / 9))], -1)
        scene[(x // 40 + y // 40 + i // 6) % 2 == 0] *= 0.6
        a = 2 * np.pi * (x * np.cos(0.03 * i) + y * np.sin(0.03 * i))
        moire = 0.8 + 0.1 * np.cos(a / 3.1) + 0.1 * np.cos(2 * np.pi * x / 3.3)
        rgb = (np.clip(scene * moire[..., None], 0, 1) * 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        out.mux(video.encode(frame))
    out.mux(video.encode(None))
    n = audio.codec_context.frame_size
    for start in range(0, RATE * FRAMES // FPS, n):
        tone = 0.2 * np.sin(2 * np.pi * 440 * (start + np.arange(n)) / RATE, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(tone[None].astype(np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = RATE, start
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))
EOF

streamdemoire clean out/sample.mp4 -o out/sample_clean.mp4 "$@"
echo "before: out/sample.mp4  after: out/sample_clean.mp4"
