"""Build a TensorRT engine from a checkpoint: ONNX export, parity check, strongly typed build.

One function, ``build_from_checkpoint``, does the whole job for tools/build_engine.py and for
the tensorrt backend's cache (which builds on first use). Everything up to the TensorRT build
runs anywhere; ``tensorrt`` is imported only when an engine is actually built.

TensorRT API notes (10.x and 11.x, the Python bindings):

- The network is created strongly typed: ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` on
  10.x (where weak typing is still the default), accepted and ignored on 11.x (where strong
  typing is the only mode). No precision builder flag is ever set: 11.x removed
  BuilderFlag.FP16/BF16/INT8, and the precision is already in the ONNX graph.
- ``builder_optimization_level`` (0..5, default 3), a WORKSPACE memory pool limit, one
  optimization profile for ``frames`` (min/opt/max), and a timing cache read before and
  written after each build, keyed by TensorRT version and GPU so tactic timings carry over
  between builds (precisions, profiles, checkpoints) on the same machine.
- ``build_serialized_network`` returns the plan (or None on failure, with the reason in the
  logger's output).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..files import write_whole
from ..model.checkpoint import file_sha256, load_checkpoint
from .manifest import BuildParams, Target, cache_key, new_manifest, write_manifest
from .onnx_export import INPUT_NAME, export_checked

Note = Callable[[str], None]

#: Oldest TensorRT with the name-based I/O API (set_tensor_address, execute_async_v3) and
#: strongly typed networks.
MIN_TENSORRT_MAJOR = 10


class BuildError(RuntimeError):
    """The TensorRT build failed; the message says what to try."""


def gpu_identity(device_index: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability "major.minor") from torch if it sees CUDA, else pycuda."""
    import torch

    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(device_index)
        return torch.cuda.get_device_name(device_index), f"{major}.{minor}"
    import pycuda.driver as cuda

    cuda.init()
    dev = cuda.Device(device_index)
    major, minor = dev.compute_capability()
    return dev.name(), f"{major}.{minor}"


def detect_target(device_index: int = 0) -> Target:
    """This machine's TensorRT version and GPU; raises ImportError/RuntimeError without them."""
    import tensorrt as trt

    major = int(trt.__version__.split(".")[0])
    if major < MIN_TENSORRT_MAJOR:
        raise RuntimeError(f"TensorRT {trt.__version__} is too old; 10 or newer is needed")
    name, cc = gpu_identity(device_index)
    return Target(trt.__version__, name, cc)


def timing_cache_path(directory: Path, target: Target) -> Path:
    """One timing cache per TensorRT version and GPU, shared by every build there."""
    return Path(directory) / f"timing-trt{target.tensorrt}-{target.sm}.cache"


def build_engine(onnx_path: Path, engine_path: Path, params: BuildParams,
                 timing_cache: Path, verbose: bool = False) -> float:
    """Compile ``onnx_path`` into ``engine_path``; returns the build time in seconds."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_strongly_typed_flag(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BuildError(f"TensorRT could not parse {onnx_path}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, params.workspace_mb << 20)
    config.builder_optimization_level = params.opt_level
    profile = builder.create_optimization_profile()
    p = params.profile
    profile.set_shape(INPUT_NAME, p.min, p.opt, p.max)
    config.add_optimization_profile(profile)
    previous = timing_cache.read_bytes() if timing_cache.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(previous), ignore_mismatch=False)

    started = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - started
    if plan is None:
        raise BuildError(f"TensorRT built no engine from {onnx_path.name}; rerun with "
                         "--verbose for the builder log, or raise --workspace-mb")
    write_whole(engine_path, memoryview(plan))
    write_whole(timing_cache, memoryview(config.get_timing_cache().serialize()))
    return seconds


def _strongly_typed_flag(trt) -> int:
    """Network creation flags: strongly typed (needed on 10.x, the only mode on 11.x)."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def build_from_checkpoint(checkpoint: Path, out_dir: Path, params: BuildParams,
                          name: str | None = None, onnx_only: bool = False,
                          calibration: list | None = None,
                          calibration_source: str | None = None,
                          device_index: int = 0, verbose: bool = False,
                          note: Note = print) -> Path:
    """Export, check and (unless ``onnx_only``) build; returns the manifest's path.

    Writes ``<name>.onnx``, ``<name>.json`` and, for a full build, ``<name>.engine`` into
    ``out_dir``; ``name`` defaults to the cache key, which is what the tensorrt backend
    looks for. The manifest is written before the build (with no engine recorded) and
    again after it, so an interrupted build leaves nothing that looks usable.
    """
    checkpoint = Path(checkpoint)
    ckpt_sha = file_sha256(checkpoint)
    net = load_checkpoint(checkpoint).build()
    target = None if onnx_only else detect_target(device_index)
    name = name or cache_key(params, ckpt_sha, target)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path, manifest_path = out_dir / f"{name}.onnx", out_dir / f"{name}.json"

    results = export_checked(net, onnx_path, params.precision, params.opset, calibration)
    for result in results:
        note(result.line())
    parity = {r.precision: r.to_dict() for r in results}
    manifest = new_manifest(params, checkpoint, ckpt_sha, file_sha256(onnx_path), target,
                            parity, calibration_source)
    write_manifest(manifest_path, manifest)
    if target is None:
        return manifest_path

    engine_path = out_dir / f"{name}.engine"
    note(f"building TensorRT {target.tensorrt} {params.precision} engine for "
         f"{target.gpu_name} ({target.sm}); this takes a minute or a few")
    seconds = build_engine(onnx_path, engine_path, params, timing_cache_path(out_dir, target),
                           verbose)
    manifest["build"]["seconds"] = round(seconds, 1)
    manifest["engine"] = {"file": engine_path.name, "sha256": file_sha256(engine_path)}
    write_manifest(manifest_path, manifest)
    note(f"built {engine_path} in {seconds:.0f} s")
    return manifest_path
