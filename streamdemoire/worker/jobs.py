"""One file job, whichever front end it came from (hot folder or Celery).

Unattended jobs get run twice: a worker is killed mid-job and the job is delivered again,
possibly to another machine. So a job writes into a staging folder named after the job
(``.streamdemoire-KEY`` beside the output) and renames the finished file into place: a run
that dies leaves only that folder, which the next run of the same job clears first, and two
runs of one job still leave exactly one complete output.

Failures are sorted once, here: bad input (or options) fails at once with its reason, since
running it again gives the same answer; a transient error (I/O, out of memory) is worth
retrying later.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..api import Demoirer
from ..engine import EngineError
from ..errors import UserError
from ..io import ENCODERS, EncodeSettings, check_output_path
from ..model.checkpoint import CheckpointError
from ..pipeline import CleanReport, clean_file
from ..sharpen import DEFAULT_AMOUNT, MAX_AMOUNT, check_amount
from ..temporal import DEFAULT_STRENGTH

#: How many times a transient failure is retried before the job fails for good.
MAX_RETRIES = 5

# Celery names, kept here so the command line can show them without importing Celery.
TASK_NAME = "streamdemoire.clean"
DEFAULT_QUEUE = "streamdemoire"
#: Six hours: longer than any file job we expect; raise it for longer ones (see celery_app).
DEFAULT_VISIBILITY_TIMEOUT = 6 * 3600.0

Progress = Callable[[int, int | None], None]


class JobFailed(Exception):
    """A job that will not succeed by running it again; the message is the reason (one line)."""


@dataclass(frozen=True)
class JobOptions:
    """The per-job encode options (what ``clean`` takes besides the engine)."""

    codec: str = "libx264"
    crf: int | None = None
    preset: str | None = None
    batch: int = 4
    temporal: bool = True
    temporal_strength: float = DEFAULT_STRENGTH
    sharpen: float = DEFAULT_AMOUNT

    def settings(self) -> EncodeSettings:
        return EncodeSettings(self.codec, self.crf, self.preset)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> JobOptions:
        """Options as they arrive in a message; anything malformed fails the job, not the worker."""
        if not isinstance(data, dict):
            raise JobFailed(f"job options must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise JobFailed(f"unknown job option(s): {', '.join(sorted(unknown))}")
        options = cls(**data)
        if options.codec not in ENCODERS:
            raise JobFailed(f"unknown codec {options.codec!r}; choose from {', '.join(ENCODERS)}")
        if not isinstance(options.batch, int) or not 1 <= options.batch <= 256:
            raise JobFailed(f"batch must be 1..256, got {options.batch!r}")
        if options.crf is not None and (not isinstance(options.crf, int)
                                        or not 0 <= options.crf <= 51):
            raise JobFailed(f"crf must be 0..51, got {options.crf!r}")
        if not isinstance(options.temporal_strength, int | float) or not (
                0 <= options.temporal_strength < 1):
            raise JobFailed(f"temporal_strength must be in [0, 1), got "
                            f"{options.temporal_strength!r}")
        try:
            check_amount(options.sharpen)
        except (TypeError, ValueError):  # TypeError: not a number at all
            raise JobFailed(f"sharpen must be in [0, {MAX_AMOUNT}], got "
                            f"{options.sharpen!r}") from None
        return options


@dataclass(frozen=True)
class EngineSpec:
    """Which model runs a worker's jobs: fixed per worker process (one device each)."""

    backend: str = "auto"
    device: str = "auto"
    checkpoint: str | None = None
    engine_path: str | None = None
    #: torch CPU threads; None leaves the engine's default (all cores).
    threads: int | None = None


_demoirers: dict[EngineSpec, Demoirer] = {}


def demoirer_for(spec: EngineSpec) -> Demoirer:
    """The process's model for ``spec``, built on first use and then kept: loading it per job
    would cost more than a short job."""
    demoirer = _demoirers.get(spec)
    if demoirer is None:
        demoirer = Demoirer(spec.backend, spec.device, spec.checkpoint, spec.engine_path)
        if spec.threads and demoirer.engine.device.type == "cpu":
            import torch  # the engine just asked for every core; several jobs share them

            torch.set_num_threads(spec.threads)
        _demoirers[spec] = demoirer
    return demoirer


def clean_into_place(input_path: Path, output: Path, demoirer: Demoirer, options: JobOptions,
                     job_key: str, on_progress: Progress | None = None) -> CleanReport:
    """Clean ``input_path`` into ``output`` through the job's own staging folder (see above)."""
    input_path, output = Path(input_path), Path(output)
    check_output_path(output, input_path)
    staging = staging_folder(output, job_key)
    shutil.rmtree(staging, ignore_errors=True)  # what an earlier, killed run of this job left
    staging.mkdir()
    try:
        transform = demoirer.for_stream(options.temporal, options.temporal_strength,
                                        options.sharpen)
        report = clean_file(input_path, staging / output.name, transform,
                            settings=options.settings(), batch_size=options.batch,
                            on_progress=on_progress)
        os.replace(staging / output.name, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return replace(report, output=output)


def staging_folder(output: Path, job_key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", job_key)
    return output.parent / f".streamdemoire-{safe}"


def is_transient(exc: BaseException) -> bool:
    """True when running the job again later may work: I/O trouble and running out of memory.

    Input, option, checkpoint and engine errors are permanent, and so is anything unexpected
    (a bug does not go away by itself; retrying it would only hide it).
    """
    if isinstance(exc, UserError | CheckpointError | EngineError | JobFailed):
        return False
    if isinstance(exc, OSError | MemoryError):
        return True
    return type(exc).__name__ == "OutOfMemoryError"  # torch.cuda.OutOfMemoryError


def reason(exc: BaseException) -> str:
    """One line that says why a job failed, in the words ``clean`` would use."""
    if isinstance(exc, UserError | CheckpointError | EngineError | JobFailed):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    return " ".join(text.split())


def backoff_seconds(attempt: int, first: float = 2.0, cap: float = 300.0) -> float:
    """Delay before retry ``attempt`` (0-based): doubling from ``first``, at most ``cap``."""
    return min(cap, first * 2 ** attempt)


def report_dict(report: CleanReport) -> dict:
    """A finished job as JSON, the same fields as ``clean --json`` where they overlap."""
    return {"output": str(report.output), "frames": report.frames,
            "seconds": round(report.seconds, 3), "fps": round(report.fps, 2),
            "lost": report.lost, "corrupt": report.corrupt}


class NullMeter:
    """Stands in for ``metrics.JobMeter`` when no metrics are served (prometheus-client is
    then not even needed)."""

    def on_progress(self, done: int, total: int | None) -> None:
        pass

    def finish(self, state: str, report: CleanReport | None = None,
               device: str | None = None) -> None:
        pass
