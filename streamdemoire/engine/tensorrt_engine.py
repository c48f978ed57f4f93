"""The TensorRT backend: a prebuilt engine run with execute_async_v3 on pycuda streams.

Opening an engine (``open_cached`` / ``open_named``)
    Every engine has a manifest (manifest.py) that is matched against this TensorRT, this
    GPU and this checkpoint before the plan is even read. An engine from the cache that
    does not match, or that TensorRT can no longer deserialize (after an upgrade, say), is
    rebuilt in place. An engine the user named is never rebuilt behind their back: it is
    refused with one line giving the reason and the exact command that rebuilds it.

Sharing the GPU with torch (one CUDA context)
    PyTorch works through the CUDA runtime API, which uses each device's *primary context*.
    pycuda would by default (pycuda.autoinit, Device.make_context) create a second context
    of its own; device pointers and streams are only valid in the context that made them,
    so torch's tensors would be invalid handles to TensorRT and vice versa. Instead this
    backend calls ``Device(i).retain_primary_context()`` and pushes that context around every
    CUDA call it makes (``_CudaContext``): pycuda streams, pycuda allocations, TensorRT's
    execution contexts and torch's tensors then all live in one context and mix freely. The
    retain is reference counted; ``close()`` releases it.

Running (two paths, both with at least two batches in flight)
    Each of the ``depth`` slots owns an execution context (its own activation memory), a
    pycuda stream and its I/O buffers, so batch k+1 is enqueued while batch k still runs.

    - Frames on the GPU (torch has CUDA): TensorRT reads the torch input tensor and writes
      a torch output tensor in place (``set_tensor_address`` with their ``data_ptr``); the
      slot's pycuda stream is wrapped as a ``torch.cuda.ExternalStream`` so that it waits
      for torch's current stream before running and torch's stream waits for it after,
      with no host synchronization. The output reaches the temporal smoother on the GPU.
    - Frames on the host (a CPU-only torch next to TensorRT): each slot has page-locked
      host buffers; upload, execute and download are queued on the slot's stream, and the
      host only waits for a slot when it needs that slot's result, while the next one runs.

    Shapes outside the engine's profile are fitted around it: batches larger than its
    largest are split, frames larger are tiled with overlap and blended (tiling.py),
    frames smaller are padded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..model.checkpoint import DEFAULT_CHECKPOINT, file_sha256
from .base import Engine
from .manifest import (
    BuildParams,
    Profile,
    cache_key,
    default_engine_dir,
    mismatches,
    read_manifest,
    rebuild_command,
)
from .onnx_export import INPUT_NAME, OUTPUT_NAME
from .tiling import pad_to_min, split_batches, tiled_apply
from .trt_build import build_from_checkpoint, detect_target

Note = Callable[[str], None]

#: Batches in flight at once (each one an execution context, a stream, I/O buffers).
DEFAULT_DEPTH = 2


class TensorRTError(RuntimeError):
    """An engine cannot be opened or run; the message is one line for the user."""


class _CudaContext:
    """The device's primary context through pycuda: the one torch uses (module docstring)."""

    def __init__(self, index: int) -> None:
        import pycuda.driver as cuda

        cuda.init()
        self._cuda = cuda
        self._context = cuda.Device(index).retain_primary_context()

    def __enter__(self) -> _CudaContext:
        self._context.push()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cuda.Context.pop()

    def release(self) -> None:
        self._context.detach()


@dataclass
class _Slot:
    """One batch in flight: its execution context, stream and (host path) buffers."""

    context: object  # tensorrt.IExecutionContext
    stream: object  # pycuda.driver.Stream
    done: object  # pycuda.driver.Event, recorded after the download (host path)
    torch_stream: torch.cuda.ExternalStream | None = None
    host_in: np.ndarray | None = None
    host_out: np.ndarray | None = None
    dev_in: object = None  # pycuda.driver.DeviceAllocation
    dev_out: object = None
    shape: tuple[int, ...] = ()


class TensorRTEngine(Engine):
    """A deserialized TensorRT engine, run in ``depth`` slots (see the module docstring)."""

    name = "tensorrt"

    def __init__(self, engine_path: Path, manifest: dict, device: str = "cuda",
                 depth: int = DEFAULT_DEPTH) -> None:
        import pycuda.driver as cuda
        import tensorrt as trt

        self._cuda, self._trt = cuda, trt
        self.gpu = torch.device("cuda", _device_index(device))
        # Frames live where torch can hold them: on the GPU if torch has CUDA, else on the
        # host (then the slots' page-locked buffers carry them across).
        self.device = self.gpu if torch.cuda.is_available() else torch.device("cpu")
        self.manifest = manifest
        self.precision = manifest.get("precision", "?")
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._ctx = _CudaContext(self.gpu.index)
        try:
            with self._ctx:
                self._engine = deserialize(Path(engine_path), self._logger)
                if self._engine is None:
                    raise TensorRTError(f"TensorRT could not deserialize {engine_path}")
                self.profile = _engine_profile(self._engine)
                self._slots = [self._new_slot() for _ in range(max(2, depth))]
        except BaseException:
            self._ctx.release()
            raise
        self._next = 0

    def _new_slot(self) -> _Slot:
        context = self._engine.create_execution_context()
        stream = self._cuda.Stream()
        torch_stream = (torch.cuda.ExternalStream(stream.handle, device=self.device)
                        if self.device.type == "cuda" else None)
        return _Slot(context, stream, self._cuda.Event(), torch_stream)

    def describe(self) -> str:
        p = self.profile
        via = "" if self.device == self.gpu else ", frames via page-locked host memory"
        return (f"tensorrt on {self.gpu} ({self.precision}, TensorRT {self._trt.__version__}, "
                f"profile up to {p.max[0]}x{p.max[2]}x{p.max[3]}{via})")

    # -- fitting any batch to the profile --------------------------------------------------

    def _infer(self, frames: torch.Tensor) -> torch.Tensor:
        h, w = frames.shape[-2:]
        frames, _, _ = pad_to_min(frames.float(), (self.profile.min[2], self.profile.min[3]))
        with self._ctx:
            out = tiled_apply(self.run_many, frames, (self.profile.max[2], self.profile.max[3]))
        return out[..., :h, :w]

    def run_many(self, inputs: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Outputs for inputs within the profile's H and W, keeping ``depth`` in flight."""
        return split_batches(self._pipelined, inputs, self.profile.max[0])

    def _pipelined(self, chunks: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        pending: deque[tuple[_Slot, torch.Tensor | None]] = deque()
        for chunk in chunks:
            if len(pending) == len(self._slots):
                yield self._collect(*pending.popleft())
            pending.append(self._submit(chunk))
        while pending:
            yield self._collect(*pending.popleft())

    # -- one batch -------------------------------------------------------------------------

    def _submit(self, x: torch.Tensor) -> tuple[_Slot, torch.Tensor | None]:
        slot = self._slots[self._next]
        self._next = (self._next + 1) % len(self._slots)
        x = x.float().contiguous()
        _set_shape(slot.context, tuple(x.shape))
        if x.is_cuda:
            return slot, self._submit_device(slot, x)
        self._submit_host(slot, x)
        return slot, None

    def _submit_device(self, slot: _Slot, x: torch.Tensor) -> torch.Tensor:
        """Enqueue on tensors already on the GPU; ordered against torch's current stream."""
        out = torch.empty_like(x)
        current = torch.cuda.current_stream(self.device)
        slot.torch_stream.wait_stream(current)
        slot.context.set_tensor_address(INPUT_NAME, x.data_ptr())
        slot.context.set_tensor_address(OUTPUT_NAME, out.data_ptr())
        _execute(slot)
        # The caching allocator must not hand these blocks out again before the engine is done.
        x.record_stream(slot.torch_stream)
        out.record_stream(slot.torch_stream)
        current.wait_stream(slot.torch_stream)
        return out

    def _submit_host(self, slot: _Slot, x: torch.Tensor) -> None:
        """Copy into page-locked memory, then queue upload, execute, download on the slot."""
        cuda = self._cuda
        n = x.numel()
        if slot.host_in is None or slot.host_in.size < n:
            slot.host_in = cuda.pagelocked_empty(n, np.float32)
            slot.host_out = cuda.pagelocked_empty(n, np.float32)
            slot.dev_in, slot.dev_out = cuda.mem_alloc(4 * n), cuda.mem_alloc(4 * n)
        slot.shape = tuple(x.shape)
        np.copyto(slot.host_in[:n], x.numpy().ravel())
        cuda.memcpy_htod_async(slot.dev_in, slot.host_in[:n], slot.stream)
        slot.context.set_tensor_address(INPUT_NAME, int(slot.dev_in))
        slot.context.set_tensor_address(OUTPUT_NAME, int(slot.dev_out))
        _execute(slot)
        cuda.memcpy_dtoh_async(slot.host_out[:n], slot.dev_out, slot.stream)
        slot.done.record(slot.stream)

    def _collect(self, slot: _Slot, out: torch.Tensor | None) -> torch.Tensor:
        """The slot's result: the device output as is, or the host copy once it landed."""
        if out is not None:
            return out
        slot.done.synchronize()
        n = int(np.prod(slot.shape))
        return torch.from_numpy(slot.host_out[:n].reshape(slot.shape).copy())

    def close(self) -> None:
        """Free the slots and release the primary context (the engine is unusable after)."""
        with self._ctx:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            for slot in self._slots:
                slot.stream.synchronize()
            self._slots.clear()
            self._engine = None
        self._ctx.release()


def _device_index(device: str) -> int:
    d = torch.device(device)
    if d.type != "cuda":
        raise TensorRTError(f"the tensorrt backend runs on a CUDA device, not {device!r}")
    return d.index or 0


def _set_shape(context: object, shape: tuple[int, ...]) -> None:
    if not context.set_input_shape(INPUT_NAME, shape):
        raise TensorRTError(f"the engine refused input shape {shape}")


def _execute(slot: _Slot) -> None:
    if not slot.context.execute_async_v3(slot.stream.handle):
        raise TensorRTError("TensorRT execute_async_v3 failed (see the TensorRT log above)")


def deserialize(engine_path: Path, logger: object) -> object | None:
    """The ICudaEngine in ``engine_path``, or None when this TensorRT cannot read it."""
    import tensorrt as trt

    try:
        return trt.Runtime(logger).deserialize_cuda_engine(engine_path.read_bytes())
    except Exception:  # a plan from another version can raise as well as return None
        return None


def _engine_profile(engine: object) -> Profile:
    """The engine's own min/opt/max for ``frames`` (profile 0): the truth, not the manifest."""
    lo, mid, hi = engine.get_tensor_profile_shape(INPUT_NAME, 0)
    return Profile(tuple(lo), tuple(mid), tuple(hi))


# -- opening engines ---------------------------------------------------------------------------


def open_named(engine_path: Path, checkpoint: Path | None, device: str = "cuda",
               ) -> TensorRTEngine:
    """An engine the user named: run it only if its manifest matches, else refuse in one line."""
    engine_path = Path(engine_path)
    checkpoint = Path(checkpoint or DEFAULT_CHECKPOINT)
    manifest = read_manifest(engine_path.with_suffix(".json"))
    target = detect_target(_device_index(device))
    reasons = mismatches(manifest, target, file_sha256(checkpoint))
    if not engine_path.is_file():
        reasons.insert(0, "file not found")
    rebuild = rebuild_command(manifest, checkpoint, engine_path.parent, engine_path.stem)
    if reasons:
        raise TensorRTError(f"refusing engine {engine_path}: {'; '.join(reasons)}. "
                            f"Rebuild it with: {rebuild}")
    try:
        return TensorRTEngine(engine_path, manifest, device)
    except TensorRTError as exc:
        raise TensorRTError(f"refusing engine {engine_path}: {exc}. Rebuild it with: {rebuild}"
                            ) from None


def open_cached(checkpoint: Path | None, device: str = "cuda",
                params: BuildParams | None = None, cache_dir: Path | None = None,
                note: Note = print) -> TensorRTEngine:
    """The cache's engine for these build parameters, built or rebuilt when it must be."""
    checkpoint = Path(checkpoint or DEFAULT_CHECKPOINT)
    params = params or BuildParams()
    cache_dir = Path(cache_dir or default_engine_dir())
    target = detect_target(_device_index(device))
    ckpt_sha = file_sha256(checkpoint)
    name = cache_key(params, ckpt_sha, target)
    engine_path = cache_dir / f"{name}.engine"
    reasons = mismatches(read_manifest(engine_path.with_suffix(".json")), target, ckpt_sha)
    if reasons or not engine_path.is_file():
        note(f"no usable TensorRT engine in {cache_dir} ({'; '.join(reasons) or 'missing'}): "
             "building one now, first use only")
        _build(checkpoint, cache_dir, params, name, device, note)
    try:
        return TensorRTEngine(engine_path, read_manifest(engine_path.with_suffix(".json")),
                              device)
    except TensorRTError as exc:
        note(f"cached engine unusable ({exc}): rebuilding it")
    _build(checkpoint, cache_dir, params, name, device, note)
    return TensorRTEngine(engine_path, read_manifest(engine_path.with_suffix(".json")), device)


def _build(checkpoint: Path, cache_dir: Path, params: BuildParams, name: str, device: str,
           note: Note) -> None:
    build_from_checkpoint(checkpoint, cache_dir, params, name=name,
                          device_index=_device_index(device), note=note)

