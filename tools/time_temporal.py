#!/usr/bin/env python3
"""Time the temporal smoother alone, against its version at another git revision.

Both smoothers run one stream each over the same frames (a 720p clip's first frames, as the
network hands them: float, channels-last), in batches of 4 as the pipeline feeds them, in
alternation, after a warm-up; prints the median wall and CPU milliseconds per frame of each,
and the largest difference between their outputs (float rounding only, where the algorithm is
the same). ``--threads`` gives the torch thread counts to time at (1: the CPU a frame costs;
2: what the pipeline's smoother thread gets on 2 cores). Quote figures from a quiet machine.

    python tools/time_temporal.py --against 59f7b42          # the smoother before issue 8
    python tools/time_temporal.py --clip other.mp4 --threads 1,2 --runs 7
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# isort: off
import streamdemoire  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
import torch
# isort: on

import av
import numpy as np

from streamdemoire.allocator import keep_freed_memory
from streamdemoire.engine.base import frames_to_tensor
from streamdemoire.temporal import TemporalSmoother

ROOT = Path(__file__).resolve().parent.parent
BENCH_CLIP = Path.home() / ".cache/streamdemoire/bench/1280x720_seed1_0.5s_30fps_loop60_30fps.mp4"


def smoother_at(revision: str) -> type:
    """``TemporalSmoother`` as streamdemoire/temporal.py was at ``revision``."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:streamdemoire/temporal.py"],
        check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "temporal_at_revision.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("temporal_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.TemporalSmoother


def takes_inputs(kind: type) -> bool:
    """Whether this smoother class reads the network's input beside its output (older
    revisions do not)."""
    return "inputs" in inspect.signature(kind.__call__).parameters


def smooth(smoother: TemporalSmoother, frames: torch.Tensor, with_inputs: bool
           ) -> torch.Tensor:
    """``frames`` smoothed; ``with_inputs``: handed over as their own network input too (the
    cost does not depend on the content)."""
    return smoother(frames, frames) if with_inputs else smoother(frames)


def read_frames(clip: Path, count: int) -> np.ndarray:
    frames = []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                break
    return np.stack(frames)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--against", default="HEAD", help="git revision to compare with (HEAD)")
    p.add_argument("--clip", type=Path, default=BENCH_CLIP,
                   help="video to take frames from (default: bench's cached 720p clip, which "
                        "`streamdemoire bench --sizes 1280x720 --clip-seconds 0.5 --frames 60` "
                        "makes)")
    p.add_argument("--frames", type=int, default=16, help="timed frames per run (default 16)")
    p.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    p.add_argument("--threads", default="1,2", help="torch thread counts (default 1,2)")
    args = p.parse_args()
    keep_freed_memory()  # as the streamdemoire command does

    if not args.clip.is_file():
        p.error(f"{args.clip} not found: `streamdemoire bench --sizes 1280x720 --clip-seconds "
                f"0.5 --frames 60` makes the default clip, or name one with --clip")
    rgb = read_frames(args.clip, args.frames + 4)
    if len(rgb) < args.frames + 4:
        p.error(f"{args.clip} has {len(rgb)} frames; --frames {args.frames} needs 4 more")
    frames = frames_to_tensor(rgb, torch.device("cpu"))  # channels-last, as the network's
    kinds = {"now": TemporalSmoother, args.against: smoother_at(args.against)}
    with_inputs_of = {name: takes_inputs(kind) for name, kind in kinds.items()}
    print(f"{args.clip.name}: {rgb.shape[2]}x{rgb.shape[1]}, {args.frames} frames a run, "
          f"batches of 4, {args.runs} runs, median per frame")
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        wall: dict[str, list[float]] = {k: [] for k in kinds}
        cpu: dict[str, list[float]] = {k: [] for k in kinds}
        outputs: dict[str, torch.Tensor] = {}
        for _ in range(args.runs):
            for name, kind in kinds.items():
                smoother, with_inputs = kind(), with_inputs_of[name]
                smooth(smoother, frames[:4], with_inputs)  # the first frame starts the history
                start, start_cpu, out = time.perf_counter(), time.process_time(), []
                for i in range(4, args.frames + 4, 4):
                    out.append(smooth(smoother, frames[i:i + 4], with_inputs))
                wall[name].append((time.perf_counter() - start) / args.frames * 1000)
                cpu[name].append((time.process_time() - start_cpu) / args.frames * 1000)
                outputs[name] = torch.cat(out)
        diff = (outputs["now"] - outputs[args.against]).abs().max().item()
        for name in kinds:
            print(f"  {threads} thread(s)  {name:>10}: {statistics.median(wall[name]):6.1f} ms "
                  f"wall, {statistics.median(cpu[name]):6.1f} ms CPU")
        print(f"  largest output difference: {diff:.1e}")


if __name__ == "__main__":
    main()
