"""Engine manifests, cache keys and the engine cache directory.

A TensorRT engine is a compiled plan for one GPU architecture, one TensorRT version, one
checkpoint and one set of build options; run anywhere else it fails, or worse, runs with the
wrong weights. So every engine travels with a JSON manifest naming all of these, and nothing
loads an engine without matching its manifest first (``mismatches``). This module holds no
TensorRT code, so its rules are tested on any machine.

Files of one build share a stem: ``<name>.onnx``, ``<name>.engine``, ``<name>.json``. Engines
built on demand are named by ``cache_key``, which spells out every build parameter, so two
builds that differ in anything never overwrite each other and a lookup is a file check.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import write_whole

#: Bumped when the manifest layout changes; an engine with another format is rebuilt.
MANIFEST_FORMAT = "streamdemoire-engine-v1"

#: Environment variable that overrides where engines are cached.
ENGINE_DIR_ENV = "STREAMDEMOIRE_ENGINE_DIR"

PRECISIONS = ("fp16", "fp32", "bf16", "int8")

Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class Profile:
    """TensorRT optimization profile for the ``frames`` input: N x 3 x H x W at min/opt/max.

    The defaults cover one frame of 256 x 256 up to eight 1080p frames (1080 padded to the
    network stride is 1088); anything larger is tiled (see tiling.py) rather than compiled
    for, because activation memory grows with the largest shape the engine accepts.
    """

    min: Shape = (1, 3, 256, 256)
    opt: Shape = (4, 3, 1088, 1920)
    max: Shape = (8, 3, 1088, 1920)

    def __post_init__(self) -> None:
        for lo, mid, hi in zip(self.min, self.opt, self.max, strict=True):
            if not 0 < lo <= mid <= hi:
                raise ValueError(f"profile must satisfy 0 < min <= opt <= max, got {self}")
        if any(s[1] != 3 for s in (self.min, self.opt, self.max)):
            raise ValueError("profile shapes must have 3 channels (N x 3 x H x W)")

    def covers(self, shape: Shape) -> bool:
        """Whether an input of ``shape`` runs on the engine without tiling or batch splits."""
        return all(lo <= s <= hi for lo, s, hi in zip(self.min, shape, self.max, strict=True))

    def to_dict(self) -> dict:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    @classmethod
    def from_dict(cls, d: dict) -> Profile:
        return cls(tuple(d["min"]), tuple(d["opt"]), tuple(d["max"]))


@dataclass(frozen=True)
class BuildParams:
    """Everything chosen when building an engine; all of it goes into the cache key."""

    precision: str = "fp16"
    profile: Profile = field(default_factory=Profile)
    opset: int = 17
    opt_level: int = 3
    workspace_mb: int = 2048
    #: sha256 of the int8 calibration frames; empty for other precisions.
    calibration_sha256: str = ""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.precision == "int8" and not self.calibration_sha256:
            raise ValueError("int8 needs calibration data (its sha256 names the engine)")
        if not 0 <= self.opt_level <= 5:
            raise ValueError("builder optimization level must be 0..5")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["profile"] = self.profile.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BuildParams:
        return cls(**{**d, "profile": Profile.from_dict(d["profile"])})


@dataclass(frozen=True)
class Target:
    """Where an engine runs: the TensorRT version and the GPU (name, compute capability)."""

    tensorrt: str
    gpu_name: str
    compute_capability: str  # "8.9"

    @property
    def sm(self) -> str:
        return "sm" + self.compute_capability.replace(".", "")


def _dims(values: tuple[int, ...]) -> str:
    return ".".join(str(v) for v in values)


def cache_key(params: BuildParams, checkpoint_sha256: str, target: Target | None) -> str:
    """A file stem that names every build parameter, readable in a directory listing.

    ``target`` is None for an ONNX-only export (no TensorRT, no GPU involved).
    """
    p = params.profile
    parts = [
        "demoire",
        checkpoint_sha256[:12],
        params.precision,
        "n" + _dims((p.min[0], p.opt[0], p.max[0])),
        "h" + _dims((p.min[2], p.opt[2], p.max[2])),
        "w" + _dims((p.min[3], p.opt[3], p.max[3])),
        f"op{params.opset}",
        f"o{params.opt_level}",
        f"ws{params.workspace_mb}",
    ]
    if params.calibration_sha256:
        parts.append("cal" + params.calibration_sha256[:8])
    if target is not None:
        parts += ["trt" + target.tensorrt, target.sm]
    return "-".join(parts)


def new_manifest(params: BuildParams, checkpoint: Path, checkpoint_sha256: str,
                 onnx_sha256: str, target: Target | None, parity: dict,
                 calibration_source: str | None = None) -> dict:
    """The manifest for one build; ``target`` None means ONNX only (no engine yet).

    ``engine`` and ``build.seconds`` are filled in by the TensorRT build once it succeeds.
    """
    return {
        "format": MANIFEST_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tensorrt": target.tensorrt if target else None,
        "gpu": ({"name": target.gpu_name, "compute_capability": target.compute_capability}
                if target else None),
        "precision": params.precision,
        "profile": params.profile.to_dict(),
        "checkpoint": {"path": str(checkpoint), "sha256": checkpoint_sha256},
        "onnx": {"sha256": onnx_sha256, "opset": params.opset},
        "build": params.to_dict() | {"strongly_typed": True, "seconds": None,
                                     "calibration_source": calibration_source},
        "parity": parity,
        "engine": None,
    }


def write_manifest(path: Path, manifest: dict) -> None:
    """Written whole, so a crashed build never leaves a manifest that half-describes."""
    write_whole(path, json.dumps(manifest, indent=2) + "\n")


def read_manifest(path: Path) -> dict | None:
    """The manifest at ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def mismatches(manifest: dict | None, target: Target, checkpoint_sha256: str) -> list[str]:
    """Why this engine must not run here; empty when it may.

    The rules: same manifest format, an engine file recorded, the exact TensorRT version
    (plans are not portable across versions), the same GPU compute capability and model
    name (tactics are timed on, and compiled for, that GPU), and the same checkpoint.
    """
    if manifest is None:
        return ["no readable manifest"]
    if manifest.get("format") != MANIFEST_FORMAT:
        return [f"manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}"]
    reasons = []
    if not manifest.get("engine"):
        reasons.append("manifest records no engine (ONNX-only export)")
    built_trt = manifest.get("tensorrt")
    if built_trt != target.tensorrt:
        reasons.append(f"built with TensorRT {built_trt}, this is TensorRT {target.tensorrt}")
    gpu = manifest.get("gpu") or {}
    if gpu.get("compute_capability") != target.compute_capability:
        reasons.append(f"built for compute capability {gpu.get('compute_capability')}, "
                       f"this GPU is {target.compute_capability}")
    elif gpu.get("name") != target.gpu_name:
        reasons.append(f"built on {gpu.get('name')}, this GPU is {target.gpu_name}")
    built_ckpt = (manifest.get("checkpoint") or {}).get("sha256", "")
    if built_ckpt != checkpoint_sha256:
        reasons.append(f"built from checkpoint {built_ckpt[:12] or '?'}, "
                       f"this checkpoint is {checkpoint_sha256[:12]}")
    return reasons


def rebuild_command(manifest: dict | None, checkpoint: Path, out_dir: Path, name: str) -> str:
    """The exact ``tools/build_engine.py`` line that rebuilds an engine here.

    It reuses the manifest's build options where it has them, so the new engine takes the
    same place (same name, same profile, same precision) as the one refused.
    """
    build = dict((manifest or {}).get("build") or {})
    calibration = build.pop("calibration_source", None) or "CALIBRATION_DIR"
    for extra in ("strongly_typed", "seconds"):
        build.pop(extra, None)
    try:
        params = BuildParams.from_dict(build)
    except (KeyError, TypeError, ValueError):
        params = BuildParams()
    args = ["python", "tools/build_engine.py", str(checkpoint), *build_args(params)]
    if params.precision == "int8":
        args += ["--calib", str(calibration)]
    return shlex.join(args + ["--out", str(out_dir), "--name", name])


def build_args(params: BuildParams) -> list[str]:
    """Command-line options of tools/build_engine.py that reproduce ``params`` (less the
    int8 calibration source, which only the manifest knows)."""
    p = params.profile
    return ["--precision", params.precision,
            "--min", "x".join(map(str, p.min)), "--opt", "x".join(map(str, p.opt)),
            "--max", "x".join(map(str, p.max)), "--opset", str(params.opset),
            "--opt-level", str(params.opt_level), "--workspace-mb", str(params.workspace_mb)]


def parse_shape(text: str) -> Shape:
    """``"4x3x1088x1920"`` (or with commas) to a 4-tuple of ints."""
    parts = text.replace(",", "x").lower().split("x")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"shape must be N x 3 x H x W, like 4x3x1088x1920, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def default_engine_dir() -> Path:
    """Where engines are cached: $STREAMDEMOIRE_ENGINE_DIR, else engines/ in a source
    checkout (next to the package, when writable), else the user's cache directory.

    The checkout's engines/ comes first so that engines built with tools/build_engine.py
    (default --out engines/) are found by the backend without any flag.
    """
    if os.environ.get(ENGINE_DIR_ENV):
        return Path(os.environ[ENGINE_DIR_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[2] / "engines"
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "streamdemoire" / "engines"


def list_engines(directory: Path) -> list[dict]:
    """Summaries of the manifests in ``directory``, for ``streamdemoire info``."""
    found = []
    for path in sorted(Path(directory).glob("*.json")):
        m = read_manifest(path)
        if not m or m.get("format") != MANIFEST_FORMAT:
            continue
        found.append({
            "name": path.stem,
            "precision": m.get("precision"),
            "tensorrt": m.get("tensorrt"),
            "gpu": (m.get("gpu") or {}).get("name"),
            "engine": bool(m.get("engine")) and path.with_suffix(".engine").is_file(),
            "checkpoint": (m.get("checkpoint") or {}).get("sha256", "")[:12],
        })
    return found
