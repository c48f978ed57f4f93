"""The tensorrt backend. The batch plumbing (in-flight depth, tiling, batch splits) is tested
on the CPU with the TensorRT calls replaced; everything else needs a GPU with TensorRT and
pycuda and skips cleanly without them (markers ``gpu`` and ``tensorrt``)."""

from __future__ import annotations

import contextlib
import importlib.util
import json

import pytest
import torch

from streamdemoire.engine.manifest import BuildParams, Profile
from streamdemoire.engine.tensorrt_engine import TensorRTEngine
from streamdemoire.model.checkpoint import save_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig

HAVE_TRT = (torch.cuda.is_available() and importlib.util.find_spec("tensorrt") is not None
            and importlib.util.find_spec("pycuda") is not None)


def gpu_tensorrt(test):
    """Mark ``test`` gpu and tensorrt, and skip it without a CUDA GPU, TensorRT and pycuda."""
    skip = pytest.mark.skipif(not HAVE_TRT, reason="needs a CUDA GPU, TensorRT and pycuda")
    return pytest.mark.gpu(pytest.mark.tensorrt(skip(test)))


SMALL = Profile((1, 3, 64, 64), (2, 3, 128, 192), (2, 3, 256, 256))


def tiny_net() -> DemoireNet:
    torch.manual_seed(0)
    net = DemoireNet(NetConfig(widths=(8, 8, 16, 16), blocks=(0, 1, 0, 1)))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return net.eval()


class FakeSlots(TensorRTEngine):
    """The real batch plumbing with the TensorRT submit/collect replaced by a log and a net."""

    def __init__(self, fn, profile: Profile) -> None:
        self.fn, self.profile, self.log = fn, profile, []
        self._ctx = contextlib.nullcontext()
        self._slots, self._next, self.device = [0, 1], 0, torch.device("cpu")

    def _submit(self, x):
        slot = self._slots[self._next]
        self._next = (self._next + 1) % len(self._slots)
        self.log.append(("submit", slot, tuple(x.shape)))
        return slot, self.fn(x)

    def _collect(self, slot, out):
        self.log.append(("collect", slot))
        return out


def test_two_batches_in_flight():
    engine = FakeSlots(lambda x: x + 1, SMALL)
    outs = list(engine.run_many(torch.zeros(1, 3, 64, 64) + i for i in range(4)))
    assert [o[0, 0, 0, 0].item() for o in outs] == [1, 2, 3, 4]
    kinds = [e[:2] for e in engine.log]
    assert kinds == [("submit", 0), ("submit", 1), ("collect", 0), ("submit", 0),
                     ("collect", 1), ("submit", 1), ("collect", 0), ("collect", 1)]


@torch.inference_mode()
def test_frames_beyond_the_profile_are_split_tiled_padded_and_cropped():
    net = tiny_net()
    engine = FakeSlots(net, SMALL)
    frames = torch.rand(3, 3, 280, 300)  # batch > 2, H and W > 256, not stride multiples
    out = engine(frames)
    assert out.shape == frames.shape
    shapes = {e[2] for e in engine.log if e[0] == "submit"}
    assert all(s[0] <= 2 and s[2] <= 256 and s[3] <= 256 for s in shapes)
    small = torch.rand(1, 3, 40, 50)  # below the profile's minimum
    assert engine(small).shape == small.shape
    assert {e[2] for e in engine.log if e[0] == "submit"} >= {(1, 3, 64, 64)}


# -- on a GPU with TensorRT ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from streamdemoire.engine.trt_build import build_from_checkpoint

    root = tmp_path_factory.mktemp("trt")
    ckpt = root / "tiny.pt"
    save_checkpoint(ckpt, tiny_net(), {}, half=False)
    manifest = build_from_checkpoint(ckpt, root, BuildParams("fp16", SMALL), name="tiny",
                                     note=lambda _: None)
    return ckpt, manifest.with_suffix(".engine")


@gpu_tensorrt
@pytest.mark.parametrize("shape", [(2, 3, 128, 192), (3, 3, 280, 300)])
def test_engine_matches_torch_on_gpu(built, shape):
    """Within the profile and beyond it (split, tiled); the reference goes through the same
    tiling in torch fp32, so the difference is TensorRT's fp16 alone."""
    from streamdemoire.engine.tensorrt_engine import open_named

    ckpt, engine_path = built
    engine = open_named(engine_path, ckpt, "cuda")
    frames = torch.rand(shape, device="cuda")
    out = engine(frames)
    assert out.is_cuda and out.shape == frames.shape  # no host round trip
    with torch.inference_mode():
        ref = FakeSlots(tiny_net().cuda(), SMALL)(frames)
    assert (out - ref).abs().max().item() < 2e-2
    engine.close()


@gpu_tensorrt
def test_mismatched_named_engine_is_refused_with_rebuild_command(built, tmp_path):
    from streamdemoire.engine.tensorrt_engine import TensorRTError, open_named

    ckpt, engine_path = built
    copy = tmp_path / "copy.engine"
    copy.write_bytes(engine_path.read_bytes())
    manifest = json.loads(engine_path.with_suffix(".json").read_text())
    manifest["tensorrt"] = "9.0.0"
    copy.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(TensorRTError) as err:
        open_named(copy, ckpt, "cuda")
    message = str(err.value)
    assert "\n" not in message and "TensorRT 9.0.0" in message
    assert "Rebuild it with: python tools/build_engine.py" in message and "--name copy" in message


@gpu_tensorrt
def test_cache_rebuilds_an_engine_that_no_longer_deserializes(built, tmp_path):
    from streamdemoire.engine.tensorrt_engine import open_cached

    ckpt, _ = built
    notes = []
    engine = open_cached(ckpt, "cuda", BuildParams("fp16", SMALL), tmp_path, notes.append)
    engine.close()
    (plan,) = tmp_path.glob("*.engine")
    plan.write_bytes(b"not a plan")  # as after a TensorRT upgrade
    engine = open_cached(ckpt, "cuda", BuildParams("fp16", SMALL), tmp_path, notes.append)
    assert any("rebuilding" in n for n in notes)
    engine.close()

