"""ONNX export: the I/O contract, parity with PyTorch at two sizes, precision in the graph."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from streamdemoire.engine import onnx_export
from streamdemoire.engine.manifest import BuildParams, read_manifest
from streamdemoire.engine.onnx_export import (
    ExportError,
    check_parity,
    export_checked,
    export_onnx,
    quantize_int8,
    real_frames,
    synthetic_frame,
)
from streamdemoire.engine.trt_build import build_from_checkpoint
from streamdemoire.model.checkpoint import save_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig

#: Small enough for a fast test, stride-aligned, neither square nor equal.
SIZES = ((96, 128), (64, 160))


def tiny_net(seed: int = 0) -> DemoireNet:
    """A narrow DemoireNet with random (non-zero) weights, so the output is not the input."""
    torch.manual_seed(seed)
    net = DemoireNet(NetConfig(widths=(8, 8, 16, 16), blocks=(0, 1, 0, 1), shading=True,
                               keep_exposure=True))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return net.eval()


@pytest.fixture(scope="module")
def frames():
    return real_frames(SIZES)


def graph_dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_fp32_export_contract_and_parity_at_two_sizes(tmp_path, frames):
    net = tiny_net()
    path = export_onnx(net, tmp_path / "net.onnx", "fp32")
    model = onnx.load(str(path))
    assert min(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("frames", "clean")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    n, c, h, w = graph_dims(inp)
    assert c == 3 and all(isinstance(d, str) for d in (n, h, w))  # N, H, W dynamic

    parity = check_parity(path, net, "fp32", *frames)
    assert set(parity.per_size) == {"96x128", "64x160"}
    assert parity.max_abs_err < 1e-3 and parity.ok
    assert parity.max_abs_err > 0 or frames[1].startswith("synthetic")  # really compared


def test_fp16_graph_keeps_fp32_io_and_fp16_weights(tmp_path, frames):
    net = tiny_net()
    results = export_checked(net, tmp_path / "net16.onnx", "fp16", sizes=SIZES)
    assert [r.precision for r in results] == ["fp32", "fp16"] and all(r.ok for r in results)
    model = onnx.load(str(tmp_path / "net16.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = {i.data_type for i in model.graph.initializer if len(i.dims) == 4}
    assert weights == {onnx.TensorProto.FLOAT16}


def test_int8_graph_is_explicitly_quantized_with_zero_points(tmp_path):
    net = tiny_net()
    fp32 = export_onnx(net, tmp_path / "net.onnx", "fp32")
    calibration = [synthetic_frame(64, 96, s)[None] for s in range(2)]
    model = onnx.load(str(quantize_int8(fp32, tmp_path / "net8.onnx", calibration)))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zero = onnx.numpy_helper.to_array(inits[node.input[2]])
            assert not zero.any(), "TensorRT needs symmetric quantization"


def test_parity_failure_raises(tmp_path, monkeypatch):
    monkeypatch.setitem(onnx_export.PARITY_LIMITS, "fp32", -1.0)
    with pytest.raises(ExportError, match="FAILED"):
        export_checked(tiny_net(), tmp_path / "net.onnx", "fp32", sizes=SIZES)


def test_onnx_only_build_writes_onnx_and_manifest(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    save_checkpoint(ckpt, tiny_net(), {"note": "test"})
    notes = []
    manifest_path = build_from_checkpoint(ckpt, tmp_path / "out", BuildParams("fp32"),
                                          name="t", onnx_only=True, note=notes.append)
    manifest = read_manifest(manifest_path)
    assert (tmp_path / "out" / "t.onnx").is_file()
    assert not (tmp_path / "out" / "t.engine").exists()
    assert manifest["engine"] is None and manifest["tensorrt"] is None
    assert manifest["parity"]["fp32"]["max_abs_err"] < 1e-3
    assert len(manifest["checkpoint"]["sha256"]) == 64 == len(manifest["onnx"]["sha256"])
    assert any(n.startswith("parity fp32") for n in notes)
    json.dumps(manifest)  # plain JSON all the way down


def test_bf16_is_checked_in_torch(tmp_path, frames):
    results = export_checked(tiny_net(), tmp_path / "bf.onnx", "bf16", sizes=SIZES)
    assert results[-1].checked_by == "PyTorch bf16" and results[-1].ok
    model = onnx.load(str(tmp_path / "bf.onnx"))
    assert any(i.data_type == onnx.TensorProto.BFLOAT16 for i in model.graph.initializer)


def test_synthetic_frame_is_moire_like():
    frame = synthetic_frame(64, 96)
    assert frame.shape == (3, 64, 96) and frame.dtype == np.float32
    assert 0.0 <= frame.min() and frame.max() <= 1.0
    assert np.abs(np.diff(frame, axis=2)).mean() > 0.02  # high-frequency content
