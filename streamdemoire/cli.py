"""The ``streamdemoire`` command line.

One function per command, each a thin front end over the library; what they share lives
here: failures become one line on stderr and a non-zero exit code (never a traceback), and
notices (audio re-encoded, frames lost) go to stderr above the progress bar. To add a
command, decorate a function with ``@main.command()`` and run its body inside
``one_line_errors()``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from tqdm import tqdm

from . import __version__
from .allocator import keep_freed_memory
from .api import Demoirer
from .bench import bench
from .engine import EngineError
from .errors import UserError
from .info import info
from .io import ENCODERS, EncodeSettings
from .io.image import is_image_path
from .live import live
from .model.checkpoint import CheckpointError
from .options import model_options, sharpen_option, temporal_options
from .pipeline import CleanReport, clean_file, clean_image
from .signals import sigterm_as_interrupt, stopped_by
from .synth.command import synth
from .worker.command import status, submit, worker

#: Set to 1 to get the full traceback of an unexpected error instead of its one line.
DEBUG_ENV = "STREAMDEMOIRE_DEBUG"

log = logging.getLogger("streamdemoire")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="streamdemoire")
def main() -> None:
    """Remove moiré from camera footage of screens, in files and live feeds."""
    keep_freed_memory()  # this process is the command's: malloc tuned for frames


main.add_command(synth)
main.add_command(live)
main.add_command(info)
main.add_command(bench)
for _command in (worker, submit, status):
    main.add_command(_command)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output file; its extension picks the container. "
                   "[default: INPUT_clean.EXT beside INPUT]")
@click.option("--codec", type=click.Choice(list(ENCODERS)), default="libx264", show_default=True,
              help="Video encoder (ffv1: lossless; *_nvenc: NVIDIA GPUs).")
@click.option("--crf", type=click.IntRange(0, 51),
              help="Quality, lower is better [default: 18 libx264, 20 libx265, "
                   "19 nvenc (as cq); ffv1 is lossless].")
@click.option("--preset", help="Encoder speed preset [default: medium for x264/x265, "
                               "p4 for nvenc].")
@click.option("--batch", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Frames per model call.")
@model_options
@sharpen_option
@temporal_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no notices.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line with the results last on stdout.")
def clean(input_path: Path, output: Path | None, codec: str, crf: int | None,
          preset: str | None, batch: int, backend: str, device: str,
          checkpoint: Path | None, engine_path: Path | None, sharpen: float, temporal: bool,
          temporal_strength: float, quiet: bool, as_json: bool) -> None:
    """Demoiré the video or photo INPUT.

    A photo (PNG, JPEG, WebP, BMP, TIFF; EXIF orientation honoured) is written in the format
    of the output's extension.

    The output keeps the input's frame timestamps (variable frame rate too), size, rotation
    and colour tags; audio and subtitles are copied (audio is re-encoded to AAC, and
    subtitles left out, only where the output container cannot hold them). It appears only
    when complete: a failed or interrupted run leaves nothing behind.
    """
    show_notices(not quiet)
    output = output or default_output(input_path)
    with one_line_errors(), sigterm_as_interrupt():
        demoirer = Demoirer(backend=backend, device=device, checkpoint=checkpoint,
                            engine_path=engine_path, temporal=temporal,
                            temporal_strength=temporal_strength, sharpen=sharpen)
        if is_image_path(input_path):
            report = clean_image(input_path, output, demoirer)
        else:
            with progress_bar(enabled=not quiet and sys.stderr.isatty(),
                              label=input_path.name) as on_progress:
                report = clean_file(input_path, output, demoirer,
                                    settings=EncodeSettings(codec, crf, preset),
                                    batch_size=batch, on_progress=on_progress)
    if as_json:
        click.echo(json.dumps(clean_result(report, demoirer)))
    elif not quiet:
        engine = f"{demoirer.engine.name} on {demoirer.engine.device}"
        if is_image_path(input_path):
            click.echo(f"wrote {report.output}: one image in {report.seconds:.2f} s ({engine})")
        else:
            click.echo(f"wrote {report.output}: {report.frames} frames in {report.seconds:.1f} s "
                       f"({report.fps:.1f} fps, {engine})")


def default_output(input_path: Path) -> Path:
    return input_path.with_name(f"{input_path.stem}_clean{input_path.suffix or '.mp4'}")


def clean_result(report: CleanReport, demoirer: Demoirer) -> dict:
    """The --json line: what ran, how fast, and how much of the input was unusable."""
    return {
        "output": str(report.output),
        "frames": report.frames,
        "seconds": round(report.seconds, 3),
        "fps": round(report.fps, 2),
        "backend": demoirer.engine.name,
        "device": str(demoirer.engine.device),
        "lost": report.lost,
        "corrupt": report.corrupt,
        "sharpen": demoirer.sharpen,
        "temporal": demoirer.smoother.strength if demoirer.smoother else None,
        "scene_cuts": demoirer.smoother.cuts if demoirer.smoother else None,
    }


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn any failure into one line on stderr and an exit code: 1, 130 for Ctrl-C, 143
    for SIGTERM (where the command turns it into ``Terminated``)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        fail(*stopped_by(exc))
    except (UserError, EngineError, CheckpointError) as exc:
        fail(str(exc))
    except OSError as exc:  # outside FFmpeg: e.g. the final rename on a full or read-only disk
        fail(f"{exc.strerror or exc}: {exc.filename or ''}")
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        fail(f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)")


def fail(message: str, code: int = 1) -> None:
    click.echo(f"streamdemoire: error: {' '.join(message.split())}", err=True)
    raise SystemExit(code)


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int | None], None]]:
    """An ``on_progress(done, total)`` callback that draws a bar (frames, fps, ETA) if enabled."""
    bar: tqdm | None = None

    def on_progress(done: int, total: int | None) -> None:
        nonlocal bar
        if not enabled:
            return
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="frame", file=sys.stderr,
                       dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        yield on_progress
    finally:
        if bar is not None:
            bar.close()


class _NoticeHandler(logging.Handler):
    """Each notice as one line on the current stderr, above a progress bar if one is drawn."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(f"streamdemoire: {record.getMessage()}", file=sys.stderr)


def show_notices(enabled: bool) -> None:
    """Route the library's warnings to stderr (or silence them, for --quiet)."""
    log.handlers = [_NoticeHandler()]
    log.propagate = False
    log.setLevel(logging.WARNING if enabled else logging.ERROR)
