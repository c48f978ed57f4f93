"""``streamdemoire info [--json]``: what can run here, on what, and which engines are cached.

Everything is looked up without loading a model or building an engine, so the command is
quick and safe on any machine; a backend that cannot run says why in one line.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform

import click
import torch

from .engine.manifest import default_engine_dir, list_engines
from .engine.select import tensorrt_missing

#: Packages whose versions matter for a bug report or an engine mismatch.
PACKAGES = ("streamdemoire", "torch", "av", "numpy", "onnx", "onnxruntime", "tensorrt",
            "pycuda")


def versions() -> dict[str, str | None]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    found["cuda (torch)"] = torch.version.cuda
    return found


def devices() -> list[dict]:
    """The CPU and every CUDA device torch can use."""
    found = [{"device": "cpu", "name": platform.processor() or platform.machine(),
              "threads": torch.get_num_threads()}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            found.append({"device": f"cuda:{i}", "name": props.name,
                          "compute_capability": f"{props.major}.{props.minor}",
                          "memory_gib": round(props.total_memory / 2**30, 1)})
    return found


def backends() -> dict[str, dict]:
    """Each backend: whether it can run here and, if not, why."""
    cuda = torch.cuda.is_available()
    trt_why = tensorrt_missing()
    return {
        "torch": {"available": True, "devices": ["cpu"] + (["cuda"] if cuda else []),
                  "note": "fp16 on CUDA, fp32 on the CPU"},
        "tensorrt": {"available": trt_why is None, "note": trt_why or "engines from the cache"},
    }


def gather() -> dict:
    engine_dir = default_engine_dir()
    return {"versions": versions(), "devices": devices(), "backends": backends(),
            "engine_dir": str(engine_dir),
            "engines": list_engines(engine_dir) if engine_dir.is_dir() else []}


def render(report: dict) -> str:
    """The report as aligned text for a terminal."""
    lines = ["backends:"]
    for name, b in report["backends"].items():
        state = "yes" if b["available"] else "no "
        lines.append(f"  {name:<9} {state}  {b['note']}")
    lines.append("devices:")
    for d in report["devices"]:
        extra = (f"  sm {d['compute_capability']}, {d['memory_gib']} GiB"
                 if "compute_capability" in d else f"  {d['threads']} threads")
        lines.append(f"  {d['device']:<9} {d['name']}{extra}")
    lines.append("versions:")
    lines += [f"  {k:<13} {v or '-'}" for k, v in report["versions"].items()]
    lines.append(f"engines in {report['engine_dir']}:")
    if not report["engines"]:
        lines.append("  (none)")
    for e in report["engines"]:
        kind = "engine" if e["engine"] else "onnx only"
        where = f"TensorRT {e['tensorrt']} on {e['gpu']}" if e["tensorrt"] else "no TensorRT"
        lines.append(f"  {e['name']}  [{e['precision']}, {kind}, {where}]")
    return "\n".join(lines)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def info(as_json: bool) -> None:
    """Backends available, devices, versions and cached engines."""
    report = gather()
    click.echo(json.dumps(report, indent=2) if as_json else render(report))
