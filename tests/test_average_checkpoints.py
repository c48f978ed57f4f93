"""tools/average_checkpoints.py: how the shipped checkpoint was made from two fine-tunings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from streamdemoire.model.checkpoint import load_checkpoint, save_checkpoint
from streamdemoire.model.net import DemoireNet, NetConfig

ROOT = Path(__file__).resolve().parents[1]


def _checkpoint(path: Path, seed: int, config: NetConfig) -> Path:
    torch.manual_seed(seed)
    net = DemoireNet(config)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    save_checkpoint(path, net, {"steps": seed})
    return path


def _average(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "average_checkpoints.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_the_average_lies_between_its_two_checkpoints(tmp_path):
    config = NetConfig(shading=True, keep_exposure=True)
    a, b = _checkpoint(tmp_path / "a.pt", 1, config), _checkpoint(tmp_path / "b.pt", 2, config)
    assert _average(str(a), str(b), "--weight", "0.25", "--out", str(tmp_path / "s.pt")
                    ).returncode == 0
    first, second, soup = (load_checkpoint(p) for p in (a, b, tmp_path / "s.pt"))
    for key, value in soup.state_dict.items():
        expected = 0.75 * first.state_dict[key].float() + 0.25 * second.state_dict[key].float()
        assert torch.allclose(value.float(), expected, atol=1e-3)  # stored in fp16
    assert soup.config == config
    assert soup.meta["average_of"]["second_weight"] == 0.25
    assert soup.meta["steps"] == 2


def test_checkpoints_of_different_networks_are_refused(tmp_path):
    a = _checkpoint(tmp_path / "a.pt", 1, NetConfig(shading=True, keep_exposure=True))
    b = _checkpoint(tmp_path / "b.pt", 2, NetConfig())
    result = _average(str(a), str(b), "--out", str(tmp_path / "s.pt"))
    assert result.returncode != 0
    assert "different networks" in result.stderr
    assert not (tmp_path / "s.pt").exists()
