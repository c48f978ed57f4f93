"""Export the network to ONNX, check it against PyTorch, and put precision into the graph.

The ONNX file is the contract with TensorRT: input ``frames``, float32 N x 3 x H x W RGB in
[0, 1], output ``clean`` of the same shape, N, H and W dynamic (H and W multiples of the
network stride; the engine pads and crops around it).

Precision lives in the graph, never in builder flags: TensorRT 11 removed weak typing
(BuilderFlag.FP16/BF16/INT8) and builds every network strongly typed, running each layer in
the type the ONNX graph gives it. So:

- fp32: the network as is;
- fp16 / bf16: the network exported in that type with a cast at each end, so the graph's
  I/O stays float32 and the pipeline feeds every engine the same way;
- int8: explicit quantization, QuantizeLinear/DequantizeLinear pairs around every Conv
  (symmetric, per-channel weights, zero points 0 as TensorRT requires), their scales
  calibrated on real frames by onnxruntime's static quantizer.

The exporter is PyTorch's TorchScript-based one (``dynamo=False``): it needs no extra
package and exports this network's six op types directly; the newer exporter needs
onnxscript and symbolic shape constraints for the stride, for no gain here.
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from ..model.net import STRIDE, DemoireNet

INPUT_NAME = "frames"
OUTPUT_NAME = "clean"
#: Opset the graph is exported at; TensorRT 10.0 parses 9..20, 10.15 and 11 up to 24.
EXPORT_OPSET = 17

#: Largest absolute difference from PyTorch fp32 allowed per graph precision. fp32 is the
#: export check proper; the others bound what rounding the precision itself costs.
PARITY_LIMITS = {"fp32": 1e-3, "fp16": 2e-2, "bf16": 6e-2, "int8": 1.5e-1}

#: Two sizes for the parity check: not square, not equal, multiples of the stride.
PARITY_SIZES = ((256, 384), (320, 224))

_TORCH_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class ExportError(RuntimeError):
    """Export or its parity check failed; the message says which and by how much."""


class _CastAround(torch.nn.Module):
    """The network in a reduced precision, with float32 at both ends of the graph."""

    def __init__(self, net: DemoireNet, dtype: torch.dtype) -> None:
        super().__init__()
        self.net = copy.deepcopy(net).to(dtype)
        self.dtype = dtype

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.to(self.dtype)).float()


def export_onnx(net: DemoireNet, path: Path, precision: str = "fp32",
                opset: int = EXPORT_OPSET) -> Path:
    """Write ``net`` as ONNX at ``path`` (fp32, fp16 or bf16 graph; int8 see quantize_int8).

    A later opset than EXPORT_OPSET is reached with ONNX's version converter.
    """
    if precision not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"export_onnx makes fp32/fp16/bf16 graphs, not {precision}")
    module = net.eval() if precision == "fp32" else _CastAround(net, _TORCH_DTYPES[precision])
    sample = torch.rand(1, 3, 2 * STRIDE, 3 * STRIDE)
    dynamic = {0: "batch", 2: "height", 3: "width"}
    path = Path(path)
    with warnings.catch_warnings():
        # The TorchScript exporter warns that it is legacy; see the module docstring.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (sample,), str(path), dynamo=False,
                          opset_version=EXPORT_OPSET, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: dynamic})
    model = onnx.load(str(path))
    if opset > EXPORT_OPSET:
        model = onnx.version_converter.convert_version(model, opset)
        onnx.save(model, str(path))
    check_graph(model, precision)
    return path


def check_graph(model: onnx.ModelProto, precision: str) -> None:
    """Validate the graph and its I/O contract.

    ONNX's full check (with type inference) runs except for bf16 below opset 22, where the
    Conv schema does not list bfloat16 yet although TensorRT's parser takes it.
    """
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    onnx.checker.check_model(model, full_check=not (precision == "bf16" and opset < 22))
    (inp,), (out,) = model.graph.input, model.graph.output
    f32 = onnx.TensorProto.FLOAT
    if (inp.name, out.name) != (INPUT_NAME, OUTPUT_NAME):
        raise ExportError(f"graph I/O is {inp.name}/{out.name}, expected frames/clean")
    if inp.type.tensor_type.elem_type != f32 or out.type.tensor_type.elem_type != f32:
        raise ExportError("graph input and output must stay float32")


def quantize_int8(fp32_onnx: Path, out_path: Path, calibration: Sequence[np.ndarray]) -> Path:
    """Explicitly quantized (Q/DQ) int8 graph from the fp32 one, calibrated on frames.

    ``calibration``: float32 N x 3 x H x W arrays in [0, 1], H and W multiples of STRIDE.
    Symmetric int8 (zero point 0), per-channel weights, Conv layers only: the form
    TensorRT's explicit quantization accepts, on TensorRT 10 and 11 alike.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration)

        def get_next(self) -> dict | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    quantize_static(str(fp32_onnx), str(out_path), Frames(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["Conv"], per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    check_graph(onnx.load(str(out_path)), "int8")
    return Path(out_path)


def calibration_sha256(calibration: Iterable[np.ndarray]) -> str:
    """Hash of the calibration frames: an int8 engine depends on them like on weights."""
    h = hashlib.sha256()
    for batch in calibration:
        h.update(str(batch.shape).encode())
        h.update(np.ascontiguousarray(batch, dtype=np.float32).tobytes())
    return h.hexdigest()


def synthetic_frame(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A moiré-like float32 3 x H x W frame: smooth content plus beating gratings.

    Stands in for the simulator's frames where that cannot be imported.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    content = 0.5 + 0.3 * np.sin(x / width * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6))
    channels = []
    for c in range(3):
        f1, f2 = rng.uniform(0.35, 0.5, size=2)
        angle = rng.uniform(0.0, 0.3)
        grating = np.sin(f1 * x + f2 * (x * np.cos(angle) + y * np.sin(angle)) + c)
        channels.append(content * (0.85 + 0.15 * grating))
    return np.clip(np.stack(channels), 0.0, 1.0).astype(np.float32)


def real_frames(sizes: Sequence[tuple[int, int]], seed: int = 1234) -> tuple[list[np.ndarray], str]:
    """One float32 1 x 3 x H x W frame per size, and where they came from.

    Real means the moiré simulator's camera frames where streamdemoire.synth imports;
    otherwise a synthetic moiré image.
    """
    try:
        from ..synth.pairs import pair_for_seed
    except ImportError:
        frames = [synthetic_frame(h, w, seed + i)[None] for i, (h, w) in enumerate(sizes)]
        return frames, "synthetic moiré image (the simulator did not import)"
    frames = []
    for i, (h, w) in enumerate(sizes):
        moire, _clean, _params = pair_for_seed(seed + i, h, w)
        frames.append((moire.astype(np.float32) / 255.0).transpose(2, 0, 1)[None].copy())
    return frames, "moiré simulator frames"


@dataclass
class Parity:
    """Largest absolute difference between an ONNX graph under onnxruntime and PyTorch."""

    precision: str
    max_abs_err: float
    per_size: dict[str, float]
    limit: float
    source: str
    checked_by: str = "onnxruntime"

    @property
    def ok(self) -> bool:
        return self.max_abs_err <= self.limit

    def to_dict(self) -> dict:
        return {"precision": self.precision, "max_abs_err": self.max_abs_err,
                "per_size": self.per_size, "limit": self.limit, "frames": self.source,
                "checked_by": self.checked_by}

    def line(self) -> str:
        sizes = ", ".join(f"{k}: {v:.2e}" for k, v in self.per_size.items())
        verdict = "ok" if self.ok else "FAILED"
        return (f"parity {self.precision} ({self.checked_by} vs PyTorch fp32, {self.source}): "
                f"max |diff| {self.max_abs_err:.2e} [{sizes}] limit {self.limit:.0e} {verdict}")


def torch_reference(net: torch.nn.Module, frame: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net.eval()(torch.from_numpy(frame)).numpy()


def onnx_outputs(onnx_path: Path, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the graph on the CPU with onnxruntime, one frame batch at a time."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2  # modest: other work shares the machine
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return [session.run([OUTPUT_NAME], {INPUT_NAME: f})[0] for f in frames]


def check_parity(onnx_path: Path, net: DemoireNet, precision: str,
                 frames: Sequence[np.ndarray], source: str) -> Parity:
    """Compare the graph with the PyTorch fp32 network on ``frames``.

    onnxruntime has no bf16 kernels for Conv, so a bf16 graph is checked by running the
    same casts in PyTorch (``checked_by`` says so); the fp32 graph is always checked by
    onnxruntime proper. onnxruntime's CPU provider computes many fp16 nodes in fp32 (it
    inserts casts), so an fp16 figure checks the graph and its fp16 weights rather than
    fp16 arithmetic; tools/gpu_check.sh measures the engine itself against PyTorch fp32.
    """
    if precision == "bf16":
        module = _CastAround(net, torch.bfloat16)
        outputs = [torch_reference(module, f) for f in frames]
        checked_by = "PyTorch bf16"
    else:
        outputs = onnx_outputs(onnx_path, frames)
        checked_by = "onnxruntime"
    per_size = {}
    for frame, out in zip(frames, outputs, strict=True):
        ref = torch_reference(net, frame)
        per_size[f"{frame.shape[2]}x{frame.shape[3]}"] = float(np.abs(out - ref).max())
    return Parity(precision, max(per_size.values()), per_size, PARITY_LIMITS[precision],
                  source, checked_by)


def export_checked(net: DemoireNet, out_path: Path, precision: str, opset: int = EXPORT_OPSET,
                   calibration: Sequence[np.ndarray] | None = None,
                   sizes: Sequence[tuple[int, int]] = PARITY_SIZES) -> list[Parity]:
    """Export ``precision``'s graph to ``out_path``, checking fp32 parity first.

    The fp32 graph must match PyTorch within 1e-3 on real frames at two sizes, whatever
    the precision asked for (it is the export that is being checked); the reduced-precision
    graph is then checked against its own, looser limit. Raises ExportError on a failure.
    """
    frames, source = real_frames(sizes)
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = out_path if precision == "fp32" else Path(tmp) / "fp32.onnx"
        export_onnx(net, fp32_path, "fp32", opset)
        results = [check_parity(fp32_path, net, "fp32", frames, source)]
        if not results[0].ok:
            raise ExportError(results[0].line())
        if precision == "int8":
            if not calibration:
                raise ExportError("int8 needs calibration frames")
            quantize_int8(fp32_path, out_path, calibration)
        elif precision != "fp32":
            export_onnx(net, out_path, precision, opset)
    if precision != "fp32":
        results.append(check_parity(out_path, net, precision, frames, source))
        if not results[-1].ok:
            raise ExportError(results[-1].line())
    return results
