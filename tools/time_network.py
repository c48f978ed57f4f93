#!/usr/bin/env python3
"""Time the network alone on the torch CPU backend, one frame at a time.

Times ``TorchEngine`` as the pipeline calls it (a float frame as ``frames_to_tensor`` makes it,
padded to the stride, cropped and clamped) against the same engine running plain
``DemoireNet`` (what the CPU ran before engine/cpu_net.py), in alternation, and prints the
median of each after a warm-up, and the largest difference between their outputs. Quote
figures from a quiet machine: on a busy one both threads wait for each other.

    python tools/time_network.py                       # 1280x720, shipped checkpoint
    python tools/time_network.py --size 1920x1080 --runs 20 --keep-freed-memory
"""

from __future__ import annotations

import argparse
import statistics
import time

# isort: off
import streamdemoire  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads)
import torch
# isort: on

from streamdemoire.allocator import keep_freed_memory
from streamdemoire.engine.base import frames_to_tensor
from streamdemoire.engine.onnx_export import synthetic_frame
from streamdemoire.engine.torch_engine import TorchEngine
from streamdemoire.model.checkpoint import load_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="default: the shipped one")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--runs", type=int, default=15, help="timed calls of each (default 15)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="tune malloc as the streamdemoire command does (streamdemoire.allocator)")
    args = p.parse_args()
    if args.keep_freed_memory:
        keep_freed_memory()
    width, height = map(int, args.size.lower().split("x"))

    checkpoint = load_checkpoint(args.checkpoint)
    engines = {"cpu_net": TorchEngine(checkpoint, "cpu"), "plain": TorchEngine(checkpoint, "cpu")}
    engines["plain"].net = checkpoint.build().to(memory_format=torch.channels_last)
    if args.threads:
        torch.set_num_threads(args.threads)
    rgb = synthetic_frame(height, width).transpose(1, 2, 0)[None]  # a moiré-like frame
    frames = frames_to_tensor((rgb * 255).round().astype("uint8"), torch.device("cpu"))

    outputs = {name: [engine(frames) for _ in range(3)][-1] for name, engine in engines.items()}
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(args.runs):
        for name, engine in engines.items():
            start = time.perf_counter()
            engine(frames)
            times[name].append(time.perf_counter() - start)
    malloc = "malloc kept" if args.keep_freed_memory else "default malloc"
    print(f"{width}x{height}, batch 1, {torch.get_num_threads()} threads, {malloc}, "
          f"median of {args.runs} after 3 warm-up calls:")
    for name, seconds in times.items():
        print(f"  {name:8s} {statistics.median(seconds) * 1000:7.1f} ms "
              f"(min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f})")
    diff = (outputs["cpu_net"] - outputs["plain"]).abs().max().item()
    print(f"  largest output difference: {diff:.2e}")


if __name__ == "__main__":
    main()
