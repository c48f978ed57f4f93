"""``streamdemoire bench``: how fast each stage runs here, how close the pipeline gets to its
slowest stage, and how much memory it needs.

Users pick a tool by how fast it goes on their machine, and engineers can only improve what
they can see, so one run measures, per frame size, on a simulated phone video of a screen:

- each stage alone: decoding (PyAV, to RGB, as ``FileSource`` does it), encoding (libx264 with
  ``clean``'s default settings, as ``FileSink`` does it), the model per backend, precision and
  batch size (uint8 in, uint8 out, as the pipeline calls it), and temporal smoothing;
- the real ``clean_file`` path end to end, and the pipeline's efficiency: its fps over the
  slowest stage's (1.0 would mean the stages overlap perfectly and nothing is wasted);
- the obvious single-threaded loop a user would write with the library's own ``Demoirer``
  (decode a frame with PyAV, call the model, encode it, one frame at a time), so the
  pipeline's gain over it is measured in the same run;
- peak memory: RSS (and torch's peak GPU allocation on CUDA) of each end-to-end run, and a
  check that it does not grow with the input's length (one clip, then one ten times longer);
- live latency (received to encoded) at a given input rate, through ``run_live`` on a file
  played in real time.

End-to-end runs each happen in a fresh process (spawned, not forked: torch's threads do not
survive a fork), so their peaks are their own and no run inherits another's warm caches.

Rendering the simulator's clip is slow (seconds per frame at 720p), so a short clip is
rendered once per size into the cache and looped: longer inputs are re-encoded from its
frames, and cached too. The clip is only a realistic load, so the cache is not keyed by the
simulator's version.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import click
import numpy as np
import torch

from .engine import BACKENDS, Engine, create_engine, frames_to_tensor, tensor_to_frames
from .files import written_whole
from .io import Batch, EncodeSettings, FileSink, FileSource, FrameTime
from .options import sharpen_option, temporal_options
from .sharpen import DEFAULT_AMOUNT
from .synth.command import FrameSize
from .temporal import DEFAULT_STRENGTH, TemporalSmoother

#: Where rendered and looped clips are kept; overrides the user's cache directory.
CACHE_ENV = "STREAMDEMOIRE_BENCH_DIR"
#: The simulated clip each size's inputs are looped from: short, because rendering is slow.
CLIP_SECONDS = 2.0
CLIP_FPS = 30
CLIP_SEED = 1
#: How looped inputs are encoded: about what a phone's hardware encoder makes (CABAC, few
#: references), quick enough to make ten times the clip's length in seconds.
LOOP_CRF, LOOP_PRESET = 20, "veryfast"
#: ``clean``'s default batch size; the end-to-end runs use it unless told otherwise.
CLEAN_BATCH = 4


# --- inputs -----------------------------------------------------------------------------------


def default_cache() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "streamdemoire" / "bench"


def source_clip(cache: Path, width: int, height: int, seconds: float = CLIP_SECONDS,
                say: Callable[[str], None] = lambda _: None) -> Path:
    """The simulated clip for this size, rendered on first use only (atomically, by
    ``write_clip``: an interrupted render leaves nothing half-written in the cache)."""
    from .synth.video import write_clip

    path = cache / f"{width}x{height}_seed{CLIP_SEED}_{seconds:g}s_{CLIP_FPS}fps.mp4"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    say(f"rendering a {seconds:g} s {width}x{height} clip with the simulator (once; kept in "
        f"{cache})")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        twin = Path(tmp) / "twin.mkv"  # write_clip insists on the clean twin; not needed here
        write_clip(path, twin, width, height, seconds, fps=CLIP_FPS, kind="mixed",
                   seed=CLIP_SEED, progress=True)
    return path


def decode_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """The first ``limit`` frames of a clip as RGB, the way ``FileSource`` converts them."""
    frames: list[np.ndarray] = []
    with FileSource(path) as source:
        for batch in source.batches(1):
            frames.extend(batch.frames)
            if limit is not None and len(frames) >= limit:
                break
    return frames[:limit]


def looped_clip(cache: Path, clip: Path, frames: int, fps: float = CLIP_FPS) -> Path:
    """A file of exactly ``frames`` frames at ``fps``, the clip's frames over and over.

    Kept in the cache beside the clip. The loop's wrap is a cut, like the cuts in the clip.
    """
    path = cache / f"{clip.stem}_loop{frames}_{fps:g}fps.mp4"
    if path.is_file():
        return path
    pool = decode_frames(clip)
    rate = Fraction(fps).limit_denominator(1001)
    with written_whole(path) as (tmp,), av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate,
                                options={"crf": str(LOOP_CRF), "preset": LOOP_PRESET})
        stream.width, stream.height, stream.pix_fmt = *pool[0].shape[1::-1], "yuv420p"
        stream.time_base = 1 / rate
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pool[i % len(pool)], format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def cycled_batches(pool: list[np.ndarray], frames: int, size: int) -> Iterator[np.ndarray]:
    """``frames`` frames from ``pool`` (round and round), ``size`` at a time."""
    for start in range(0, frames, size):
        count = min(size, frames - start)
        yield np.stack([pool[(start + k) % len(pool)] for k in range(count)])


# --- stages alone -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way to run the model: backend, device and precision."""

    backend: str
    device: str
    precision: str

    @property
    def label(self) -> str:
        return f"{self.backend} {self.device} {self.precision}"


def engine_variants(backend: str = "auto", device: str = "auto") -> list[Variant]:
    """Every backend and precision that can run here on ``device`` (``auto``: a CUDA GPU
    where torch sees one, else the CPU), restricted to ``backend`` unless ``auto``."""
    from .engine.select import tensorrt_missing

    if device in ("", "auto"):
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type == "cpu":
        variants = [Variant("torch", device, "fp32")]
    else:
        variants = [Variant("torch", device, "fp16"), Variant("torch", device, "fp32")]
        if tensorrt_missing() is None:
            variants.append(Variant("tensorrt", device, "fp16"))
    return [v for v in variants if backend == "auto" or v.backend == backend]


def open_variant(variant: Variant, checkpoint: Path | None) -> Engine:
    if variant.backend == "tensorrt":
        return create_engine("tensorrt", variant.device, checkpoint)
    from .engine.torch_engine import TorchEngine
    from .model.checkpoint import load_checkpoint

    return TorchEngine(load_checkpoint(checkpoint), variant.device,
                       half=variant.precision == "fp16")


class EngineTransform:
    """An engine as the pipeline calls it: uint8 frames in, uint8 frames out (what
    ``Demoirer.__call__`` does, for an engine opened at a chosen precision)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return tensor_to_frames(self.engine(frames_to_tensor(frames, self.engine.device)))


def _rate(frames: int, seconds: float, cpu_seconds: float | None = None) -> dict[str, float]:
    """Frames per second, and CPU seconds per frame (all of the process's threads): on a
    busy machine the first falls with the share of the cores it got, the second hardly."""
    rate = {"frames": frames, "seconds": round(seconds, 3),
            "fps": round(frames / seconds, 3) if seconds > 0 else 0.0}
    if cpu_seconds is not None and frames:
        rate["cpu_s_per_frame"] = round(cpu_seconds / frames, 4)
    return rate


class _Clock:
    """Wall and process CPU time from the moment it is made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rate(self, frames: int) -> dict[str, float]:
        return _rate(frames, time.perf_counter() - self.wall, time.process_time() - self.cpu)


def measure_decode(path: Path, batch: int) -> dict[str, float]:
    """``FileSource`` alone: demux, decode (its threads), convert to RGB, stack batches."""
    frames = 0
    clock = _Clock()
    with FileSource(path) as source:
        for item in source.batches(batch):
            frames += len(item)
    return clock.rate(frames)


def measure_encode(path: Path, pool: list[np.ndarray], frames: int, batch: int,
                   settings: EncodeSettings) -> dict[str, float]:
    """``FileSink`` alone, with ``clean``'s encoder settings, fed frames already in memory."""
    with FileSource(path) as source:
        info = dataclasses.replace(source.info, time_base=Fraction(1, CLIP_FPS), frames=frames)
    with tempfile.TemporaryDirectory() as tmp:
        with FileSink(Path(tmp) / "encoded.mp4", info, [], settings) as sink:
            clock = _Clock()
            done = 0
            for rgb in cycled_batches(pool, frames, batch):
                times = [FrameTime(done + k, info.time_base, 1) for k in range(len(rgb))]
                sink.write(Batch(rgb, times))
                done += len(rgb)
            sink.finish()
            rate = clock.rate(frames)
    return rate


def measure_transform(transform: Callable[[np.ndarray], np.ndarray], pool: list[np.ndarray],
                      frames: int, batch: int) -> dict[str, float]:
    """A uint8 -> uint8 model stage alone; one untimed call first (allocations, autotuning)."""
    transform(next(cycled_batches(pool, batch, batch)))
    clock = _Clock()
    for rgb in cycled_batches(pool, frames, batch):
        transform(rgb)
    return clock.rate(frames)


def measure_temporal(strength: float, pool: list[np.ndarray], frames: int, batch: int,
                     device: str) -> dict[str, float]:
    """The smoother alone on the model's device, on float frames already there (the form
    the model hands it, with the network's input beside them: here the frames themselves,
    as the cost does not depend on the content), one stream in order."""
    dev = torch.device(device)
    smoother = TemporalSmoother(strength)
    tensors = [frames_to_tensor(rgb, dev) for rgb in cycled_batches(pool, len(pool), batch)]
    smoother(tensors[0], tensors[0])
    _sync(dev)
    clock = _Clock()
    done = 0
    while done < frames:
        chunk = tensors[(done // batch) % len(tensors)][: frames - done]
        smoother(chunk, chunk)
        done += len(chunk)
    _sync(dev)
    return clock.rate(frames)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- end to end, each in a process of its own -------------------------------------------------


def in_child(fn: Callable[..., dict], *args: Any) -> dict:
    """Run ``fn(*args)`` in a fresh spawned process and return its result: its memory peak
    is its own, and torch starts there as it does for a user."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, *args).result()


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started, in MiB.

    Linux's VmHWM, not ``ru_maxrss``: the latter survives exec, so a spawned child would
    report the RSS of the parent it was forked from (the whole benchmark's torch and frames).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes there, KiB else


def _peaks(device: torch.device) -> dict[str, float | None]:
    """This process's peak RSS, and torch's peak GPU allocation when it used a GPU (MiB)."""
    rss_mib = peak_rss_mib()
    gpu = None
    if device.type == "cuda":
        gpu = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return {"peak_rss_mb": round(rss_mib, 1), "gpu_peak_mb": gpu}


@dataclass(frozen=True)
class ModelSettings:
    """How the end-to-end runs make their ``Demoirer``, as ``clean`` makes one, so ``clean``,
    the loop and the live run all do the same work (picklable, for the child process)."""

    backend: str
    device: str
    checkpoint: Path | None
    temporal: bool
    temporal_strength: float
    sharpen: float

    def demoirer(self):
        from .api import Demoirer

        return Demoirer(backend=self.backend, device=self.device, checkpoint=self.checkpoint,
                        temporal=self.temporal, temporal_strength=self.temporal_strength,
                        sharpen=self.sharpen)


def child_clean(path: Path, model: ModelSettings, batch: int, settings: EncodeSettings
                ) -> dict:
    """``streamdemoire clean`` as the command runs it: a ``Demoirer`` and ``clean_file``.

    The fps is ``clean_file``'s own (decode of the first frame to the output's rename; the
    model load before it is not counted)."""
    from .allocator import keep_freed_memory
    from .pipeline import clean_file

    keep_freed_memory()  # as the command does (streamdemoire.allocator)
    demoirer = model.demoirer()
    with tempfile.TemporaryDirectory() as tmp:
        cpu = time.process_time()
        report = clean_file(path, Path(tmp) / "clean.mp4", demoirer, settings=settings,
                            batch_size=batch)
        cpu = time.process_time() - cpu
    return {**_rate(report.frames, report.seconds, cpu),
            "backend": demoirer.engine.describe(),
            **_peaks(demoirer.engine.device)}


def child_loop(path: Path, model: ModelSettings, settings: EncodeSettings) -> dict:
    """The obvious loop a user would write with the library: no threads, no batches.

    Same model, same encoder settings and timestamps as ``clean``; timed like ``clean_file``
    (from the first decoded frame to the closed output)."""
    from .io.sink import ENCODERS

    demoirer = model.demoirer()
    enc = ENCODERS[settings.codec]
    options = {"crf": str(settings.crf or enc.default_quality),
               "preset": settings.preset or enc.default_preset}
    frames = 0
    with tempfile.TemporaryDirectory() as tmp, av.open(str(path)) as inp, \
            av.open(str(Path(tmp) / "loop.mp4"), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream(settings.codec, rate=vin.average_rate, options=options)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.time_base = vin.time_base
        clock = _Clock()
        for frame in inp.decode(vin):
            rgb = frame.to_ndarray(format="rgb24")
            cleaned = av.VideoFrame.from_ndarray(demoirer(rgb[None])[0], format="rgb24")
            cleaned.pts, cleaned.time_base = frame.pts, frame.time_base
            out.mux(vout.encode(cleaned))
            frames += 1
        out.mux(vout.encode())
        out.close()
        rate = clock.rate(frames)
    return {**rate, **_peaks(demoirer.engine.device)}


def child_live(path: Path, model: ModelSettings, seconds: float, max_latency: float) -> dict:
    """``streamdemoire live FILE --realtime``: the file plays at its own rate, as a camera
    would send it; frames the model cannot keep up with are dropped, as live drops them."""
    from .allocator import keep_freed_memory
    from .io.live_sink import live_output
    from .io.live_source import live_input
    from .live import run_live

    keep_freed_memory()  # as the command does (streamdemoire.allocator)
    demoirer = model.demoirer()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_live(live_input(str(path), realtime=True),
                          live_output(str(Path(tmp) / "live.mkv")), demoirer,
                          max_latency=max_latency, duration=seconds, batch_size=1,
                          stats_every=3600)
    if report.error:
        raise RuntimeError(f"live run failed: {report.error}")
    return {"frames": report.frames, "dropped": report.dropped, "fps": round(report.fps, 3),
            "latency_ms": report.latency.summary_ms(), **_peaks(demoirer.engine.device)}


# --- one run ----------------------------------------------------------------------------------


@dataclass
class BenchOptions:
    sizes: list[tuple[int, int]]
    frames: int = 24
    backend: str = "auto"
    device: str = "auto"
    batches: list[int] = field(default_factory=lambda: [1, CLEAN_BATCH])
    pipeline_batch: int = CLEAN_BATCH
    checkpoint: Path | None = None
    #: Smooth over time in the end-to-end runs, as ``clean`` does by default, and how
    #: strongly (``clean``'s ``--temporal-strength``; the smoother alone is timed with it too).
    temporal: bool = True
    temporal_strength: float = DEFAULT_STRENGTH
    #: Sharpen the network's output in the end-to-end runs (``clean``'s ``--sharpen``).
    sharpen: float = DEFAULT_AMOUNT
    cache: Path = field(default_factory=default_cache)
    clip_seconds: float = CLIP_SECONDS
    #: Input rate (fps) and length (s) of the live run; rate None: no live run.
    live_fps: float | None = 30.0
    live_seconds: float = 10.0
    max_latency: float = 0.5
    #: The size of the memory check (None: no check) and its short clip's length.
    memory_size: tuple[int, int] | None = None
    memory_frames: int = 60


def pipeline_variant(options: BenchOptions) -> Variant:
    """What ``clean --backend B --device D`` would run, as a Variant (for its engine fps)."""
    from .api import Demoirer

    engine = Demoirer(options.backend, options.device, options.checkpoint).engine
    precision = "fp16" if getattr(engine, "half", engine.name == "tensorrt") else "fp32"
    return Variant(engine.name, str(engine.device), precision)


def bench_size(width: int, height: int, options: BenchOptions, main: Variant,
               say: Callable[[str], None]) -> dict:
    """Every measurement at one frame size (see the module docstring)."""
    label = f"{width}x{height}"
    settings = EncodeSettings()
    clip = source_clip(options.cache, width, height, options.clip_seconds, say)
    looped = looped_clip(options.cache, clip, options.frames)
    pool = decode_frames(clip, options.frames)
    result: dict[str, Any] = {"size": label, "frames": options.frames}

    say(f"{label}: decode")
    result["decode"] = measure_decode(looped, options.pipeline_batch)
    say(f"{label}: encode (libx264, clean's defaults)")
    result["encode"] = measure_encode(looped, pool, options.frames, options.pipeline_batch,
                                      settings)
    result["engines"] = _bench_engines(label, pool, options, main, say)
    result["temporal"] = _bench_temporal(label, pool, options, main, say)

    say(f"{label}: clean (the pipeline, in its own process)")
    result["pipeline"] = in_child(child_clean, looped, _model_settings(options),
                                  options.pipeline_batch, settings)
    say(f"{label}: the single-threaded loop (in its own process)")
    result["loop"] = in_child(child_loop, looped, _model_settings(options), settings)
    result.update(_efficiency(result, main, options))
    if options.live_fps:
        result["live"] = _bench_live(label, clip, options, say)
    return result


def _model_settings(options: BenchOptions) -> ModelSettings:
    return ModelSettings(options.backend, options.device, options.checkpoint, options.temporal,
                         options.temporal_strength, options.sharpen)


def _bench_engines(label: str, pool: list[np.ndarray], options: BenchOptions, main: Variant,
                   say: Callable[[str], None]) -> list[dict]:
    rows = []
    for variant in engine_variants(options.backend, options.device):
        transform = EngineTransform(open_variant(variant, options.checkpoint))
        batches = sorted(set(options.batches)
                         | ({options.pipeline_batch} if variant == main else set()))
        for batch in batches:
            say(f"{label}: model {variant.label} batch {batch}")
            rows.append({"backend": variant.backend, "device": variant.device,
                         "precision": variant.precision, "batch": batch,
                         **measure_transform(transform, pool, options.frames, batch)})
        del transform
    return rows


def _bench_temporal(label: str, pool: list[np.ndarray], options: BenchOptions, main: Variant,
                    say: Callable[[str], None]) -> dict:
    say(f"{label}: temporal smoothing on {main.device}")
    return {**measure_temporal(options.temporal_strength, pool, options.frames,
                               options.pipeline_batch, main.device), "device": main.device}


def _efficiency(result: dict, main: Variant, options: BenchOptions) -> dict:
    """Pipeline fps over its slowest stage's, and ``clean`` over the obvious loop.

    The stages are the pipeline's threads, each measured alone: decode, the engine, the
    temporal smoother (its own thread when ``clean`` smooths) and encode. For comparison,
    ``engine_then_temporal_fps`` is the two run one after the other in one thread, as the
    loop runs them (and the pipeline did before they had a thread each; its efficiency was
    measured against that, so ``efficiency_vs_engine_then_temporal`` continues that figure).
    """
    engine = next(r for r in result["engines"] if Variant(r["backend"], r["device"],
                                                          r["precision"]) == main
                  and r["batch"] == options.pipeline_batch)
    stages = {"decode": result["decode"]["fps"], "engine": engine["fps"]}
    temporal = result["temporal"].get("fps")
    serial = None
    if options.temporal and temporal:
        stages["temporal"] = temporal
        if engine["fps"]:
            serial = round(1 / (1 / engine["fps"] + 1 / temporal), 3)
    stages["encode"] = result["encode"]["fps"]
    slowest = min(stages, key=stages.get)
    pipeline, loop = result["pipeline"]["fps"], result["loop"]["fps"]
    return {"stages_fps": stages, "slowest_stage": slowest,
            "engine_then_temporal_fps": serial,
            "efficiency": round(pipeline / stages[slowest], 3) if stages[slowest] else None,
            "efficiency_vs_engine_then_temporal": round(pipeline / serial, 3) if serial else None,
            "clean_vs_loop": round(pipeline / loop, 3) if loop else None}


def _bench_live(label: str, clip: Path, options: BenchOptions,
                say: Callable[[str], None]) -> dict:
    frames = math.ceil(options.live_fps * options.live_seconds) + 1
    source = looped_clip(options.cache, clip, frames, options.live_fps)
    say(f"{label}: live, {options.live_fps:g} fps input for {options.live_seconds:g} s")
    live = in_child(child_live, source, _model_settings(options), options.live_seconds,
                    options.max_latency)
    return {"input_fps": options.live_fps, "max_latency_ms": options.max_latency * 1000,
            **live}


def bench_memory(options: BenchOptions, say: Callable[[str], None]) -> dict:
    """Peak RSS of ``clean`` on a clip and on one ten times longer, each in its own process:
    bounded queues should keep the two peaks within a few percent.

    The shorter clip must outlast the stages' own warm-up, or it measures that instead: x264
    at its medium preset holds about 40 frames of lookahead (plus its frame threads'), so on
    an 8-frame clip the encoder never fills up (the likely cause of what was measured: 463
    MiB against 550 MiB on 80 frames at 640x360). Hence 60 frames by default.
    """
    width, height = options.memory_size
    clip = source_clip(options.cache, width, height, options.clip_seconds, say)
    runs = {}
    for name, frames in (("short", options.memory_frames), ("long", 10 * options.memory_frames)):
        say(f"memory: clean on {frames} frames at {width}x{height}")
        path = looped_clip(options.cache, clip, frames)
        runs[name] = in_child(child_clean, path, _model_settings(options),
                              options.pipeline_batch, EncodeSettings())
    short, long = runs["short"]["peak_rss_mb"], runs["long"]["peak_rss_mb"]
    return {"size": f"{width}x{height}", **runs,
            "long_over_short": round(long / short, 3) if short else None}


def machine() -> dict:
    """What the figures were measured on, including how busy the machine was."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()], "gpu": gpu,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "av": av.__version__, "ffmpeg": av.library_versions.get("libavcodec"),
            "python": platform.python_version()}


def run_bench(options: BenchOptions, say: Callable[[str], None] = lambda _: None) -> dict:
    """The whole benchmark: one result dict (the ``--json`` output)."""
    main = pipeline_variant(options)
    report: dict[str, Any] = {"machine": machine(), "pipeline_engine": main.label,
                              "pipeline_batch": options.pipeline_batch,
                              "pipeline_temporal": options.temporal,
                              "pipeline_temporal_strength": options.temporal_strength,
                              "pipeline_sharpen": options.sharpen, "sizes": []}
    for width, height in options.sizes:
        report["sizes"].append(bench_size(width, height, options, main, say))
    if options.memory_size:
        report["memory"] = bench_memory(options, say)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


# --- output -----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(report: dict) -> str:
    """The terminal summary: one row per size, then the model's variants, then memory."""
    head = ("size", "decode", "encode", "engine", "temporal", "clean", "eff.", "loop",
            "clean/loop", "RSS MiB", "live p50/p95 ms")
    rows = [head]
    for r in report["sizes"]:
        engine = _main_engine(r, report)
        live = r.get("live", {}).get("latency_ms", {})
        rows.append((r["size"], _fmt(r["decode"]["fps"]), _fmt(r["encode"]["fps"]),
                     _fmt(engine["fps"], 2), _fmt(r["temporal"]["fps"]),
                     _fmt(r["pipeline"]["fps"], 2), _fmt(r["efficiency"], 2),
                     _fmt(r["loop"]["fps"], 2), _fmt(r["clean_vs_loop"], 2),
                     _fmt(r["pipeline"]["peak_rss_mb"], 0),
                     f"{_fmt(live.get('p50'), 0)}/{_fmt(live.get('p95'), 0)}" if live else "-"))
    smooth = "with" if report["pipeline_temporal"] else "without"
    lines = [f"frames per second; engine = {report['pipeline_engine']} at batch "
             f"{report['pipeline_batch']}; clean and loop {smooth} temporal smoothing, "
             f"sharpening {report['pipeline_sharpen']}; "
             f"eff. = clean / its slowest stage alone (decode, engine, temporal, encode)",
             *_columns(rows), "", "model alone (fps):"]
    for r in report["sizes"]:
        lines.append(f"  {r['size']}: " + ", ".join(
            f"{e['backend']} {e['device']} {e['precision']} b{e['batch']} {e['fps']:.2f}"
            for e in r["engines"]))
    lines.append("CPU seconds per frame (all threads; on a busy machine these hold, the fps "
                 "do not):")
    for r in report["sizes"]:
        parts = {"decode": r["decode"], "encode": r["encode"],
                 "engine": _main_engine(r, report), "temporal": r["temporal"],
                 "clean": r["pipeline"], "loop": r["loop"]}
        lines.append(f"  {r['size']}: " + ", ".join(
            f"{name} {_fmt(part.get('cpu_s_per_frame'), 3)}" for name, part in parts.items()))
    if "memory" in report:
        m = report["memory"]
        lines.append(f"memory at {m['size']}: clean peak RSS {m['short']['peak_rss_mb']:.0f} MiB "
                     f"on {m['short']['frames']} frames, {m['long']['peak_rss_mb']:.0f} MiB on "
                     f"{m['long']['frames']} ({m['long_over_short']:.3f}x)")
    for r in report["sizes"]:
        if "live" in r:
            lv = r["live"]
            lines.append(f"live at {r['size']}, {lv['input_fps']:g} fps in: {lv['fps']:.2f} fps "
                         f"out, {lv['dropped']} dropped, latency p50/p95/max "
                         f"{lv['latency_ms']['p50']}/{lv['latency_ms']['p95']}/"
                         f"{lv['latency_ms']['max']} ms")
    load = report["machine"]["load_average"]
    lines.append(f"load average at start {load[0]:.1f} on {report['machine']['cpu_count']} CPUs")
    return "\n".join(lines)


def _main_engine(size: dict, report: dict) -> dict:
    return next(e for e in size["engines"]
                if f"{e['backend']} {e['device']} {e['precision']}" == report["pipeline_engine"]
                and e["batch"] == report["pipeline_batch"])


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
            for row in rows]


BAR_SERIES = (("decode", (66, 133, 244)), ("encode", (52, 168, 83)),
              ("engine", (251, 188, 4)), ("temporal", (171, 71, 188)),
              ("clean", (234, 67, 53)), ("loop", (120, 120, 120)))


def bar_values(size: dict, report: dict) -> dict[str, float | None]:
    return {"decode": size["decode"]["fps"], "encode": size["encode"]["fps"],
            "engine": _main_engine(size, report)["fps"], "temporal": size["temporal"]["fps"],
            "clean": size["pipeline"]["fps"], "loop": size["loop"]["fps"]}


def draw_chart(report: dict, path: Path) -> None:
    """Grouped bars per size on a log scale (decoding runs hundreds of times faster than the
    model on a CPU), drawn with Pillow so the chart needs no plotting library."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=11)
    sizes = report["sizes"]
    group, bar, left, top, plot_h = 300, 40, 70, 60, 360
    width = max(left + group * max(len(sizes), 1) + 150, 760)  # room for the title
    img = Image.new("RGB", (width, top + plot_h + 60), "white")
    draw = ImageDraw.Draw(img)
    values = [v for s in sizes for v in bar_values(s, report).values() if v]
    lo = 10 ** math.floor(math.log10(min(values))) if values else 0.1
    hi = 10 ** math.ceil(math.log10(max(values))) if values else 100.0
    hi = max(hi, lo * 10)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (math.log10(v) - math.log10(lo)) /
                               (math.log10(hi) - math.log10(lo)))

    draw.text((left, 15), f"streamdemoire bench: fps per stage ({report['pipeline_engine']}, "
                          f"batch {report['pipeline_batch']}); load avg "
                          f"{report['machine']['load_average'][0]:.1f}", fill="black", font=font)
    decade = lo
    while decade <= hi * 1.001:
        y = y_of(decade)
        draw.line((left, y, width - 150, y), fill=(225, 225, 225))
        draw.text((8, y - 7), f"{decade:g}", fill="black", font=small)
        decade *= 10
    for g, size in enumerate(sizes):
        x0 = left + g * group + 15
        for k, (name, colour) in enumerate(BAR_SERIES):
            value = bar_values(size, report)[name]
            x = x0 + k * bar
            if value:
                draw.rectangle((x, y_of(value), x + bar - 6, top + plot_h), fill=colour)
                draw.text((x, y_of(value) - 14), f"{value:.3g}", fill="black", font=small)
        eff = size.get("efficiency")
        draw.text((x0, top + plot_h + 8), f"{size['size']}  eff. {_fmt(eff, 2)}",
                  fill="black", font=font)
    for k, (name, colour) in enumerate(BAR_SERIES):
        y = top + 10 + k * 22
        draw.rectangle((width - 130, y, width - 116, y + 14), fill=colour)
        draw.text((width - 108, y), name, fill="black", font=font)
    img.save(path)


# --- the command ------------------------------------------------------------------------------


def _int_list(value: str | list[int]) -> list[int]:
    if isinstance(value, list):
        return value
    try:
        numbers = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if not numbers or min(numbers) < 1:
        raise click.BadParameter(f"{value!r}: batch sizes are whole numbers from 1")
    return numbers


def _size_list(value: str) -> list[tuple[int, int]]:
    return [FrameSize().convert(v, None, None) for v in value.split(",") if v.strip()]


@click.command()
@click.option("--sizes", default="640x360,1280x720,1920x1080", show_default=True,
              help="Frame sizes, comma-separated WIDTHxHEIGHT.")
@click.option("--frames", type=click.IntRange(min=1), default=24, show_default=True,
              help="Frames per measurement.")
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="auto", show_default=True,
              help="auto: every backend that runs here for the model alone, and what clean "
                   "picks for the end-to-end runs.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option("--batch", "batches", default="1,4", show_default=True,
              help="Batch sizes to time the model alone at, comma-separated.")
@click.option("--pipeline-batch", type=click.IntRange(1, 256), default=CLEAN_BATCH,
              show_default=True, help="Batch size of the end-to-end runs (clean's --batch).")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="Model weights [default: the shipped checkpoint].")
@sharpen_option
@temporal_options
@click.option("--live-fps", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Input rate of the live latency run; 0 skips it.")
@click.option("--live-seconds", type=click.FloatRange(min=0.5), default=10.0,
              show_default=True, help="Length of the live run.")
@click.option("--memory-size", help="Size of the memory check (a clip, then one 10x longer) "
                                    "[default: the first of --sizes]; none skips it.")
@click.option("--memory-frames", type=click.IntRange(min=1), default=60, show_default=True,
              help="Frames of the memory check's shorter clip (more than the encoder's "
                   "40-frame lookahead, or it measures the warm-up).")
@click.option("--clip-seconds", type=click.FloatRange(min=0.05), default=CLIP_SECONDS,
              show_default=True, help="Length of the simulated clip rendered (then looped).")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path),
              help=f"Where clips are kept [default: ${CACHE_ENV} or "
                   f"~/.cache/streamdemoire/bench].")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a bar chart of the stages' fps to this PNG.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def bench(sizes: str, frames: int, backend: str, device: str, batches: str,
          pipeline_batch: int, checkpoint: Path | None, sharpen: float, temporal: bool,
          temporal_strength: float, live_fps: float,
          live_seconds: float,
          memory_size: str | None, memory_frames: int, clip_seconds: float,
          cache: Path | None, as_json: bool, plot: Path | None, quiet: bool) -> None:
    """Measure decoding, encoding, the model, temporal smoothing and the whole pipeline on a
    simulated clip, per frame size; with peak memory and live latency.

    Rendered clips are cached, so only the first run renders. Prints a table (or --json);
    progress lines go to stderr on a terminal.
    """
    from .cli import one_line_errors

    size_list = _size_list(sizes)
    if not size_list:
        raise click.BadParameter("no sizes given", param_hint="--sizes")
    if memory_size is None:
        memory = size_list[0]
    else:
        memory = None if memory_size == "none" else FrameSize().convert(memory_size, None, None)
    options = BenchOptions(sizes=size_list, frames=frames, backend=backend, device=device,
                           batches=_int_list(batches), pipeline_batch=pipeline_batch,
                           checkpoint=checkpoint, temporal=temporal,
                           temporal_strength=temporal_strength, sharpen=sharpen,
                           cache=cache or default_cache(),
                           clip_seconds=clip_seconds, live_fps=live_fps or None,
                           live_seconds=live_seconds, memory_size=memory,
                           memory_frames=memory_frames)
    show = not quiet and sys.stderr.isatty()

    def say(message: str) -> None:
        if show:
            click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)

    with one_line_errors():
        report = run_bench(options, say)
        if plot is not None:
            draw_chart(report, plot)
    click.echo(json.dumps(report) if as_json else format_table(report))
