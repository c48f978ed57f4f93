"""``streamdemoire synth``: write a simulated moiré clip and its lossless clean twin.

A standalone click command; the ``streamdemoire`` group registers it with
``main.add_command(synth)``. It does not import ``streamdemoire.cli`` (which imports it), so it
formats its own failures the same way: one line on stderr, exit code 1 (130 for Ctrl-C,
143 for SIGTERM).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click

from ..signals import sigterm_as_interrupt, stopped_by
from .content import CONTENT_KINDS
from .video import frame_count, write_clip

#: Set to 1 to get the traceback of an unexpected error (the same switch as the main CLI).
DEBUG_ENV = "STREAMDEMOIRE_DEBUG"

#: Smallest side accepted: smaller clips show too few display pixels to be any use.
MIN_SIDE = 16


class FrameSize(click.ParamType):
    """``WIDTHxHEIGHT`` with even sides (H.264 in yuv420p halves the chroma resolution)."""

    name = "WxH"

    def convert(self, value, param, ctx) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
        if not match:
            self.fail(f"{value!r} is not WIDTHxHEIGHT, e.g. 640x360", param, ctx)
        width, height = int(match[1]), int(match[2])
        if min(width, height) < MIN_SIDE or width % 2 or height % 2:
            self.fail(f"{value!r}: sides must be even and at least {MIN_SIDE}", param, ctx)
        return width, height


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"streamdemoire: error: {' '.join(message.split())}", err=True)
    raise SystemExit(code)


def _check_outputs(out: Path, clean: Path) -> None:
    """Catch the usual mistakes before minutes of rendering, with a message that names them."""
    if out.resolve() == clean.resolve():
        raise click.BadParameter("must differ from OUT", param_hint="--clean")
    for path, hint in ((out, "OUT"), (clean, "--clean")):
        if not path.parent.is_dir():
            raise click.BadParameter(f"folder {str(path.parent)!r} does not exist",
                                     param_hint=hint)


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--clean", "clean", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the clean twin (FFV1 in Matroska, lossless RGB): .mkv")
@click.option("--size", type=FrameSize(), metavar="WxH", default="640x360", show_default=True,
              help="Frame size WIDTHxHEIGHT, even sides.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=5.0,
              show_default=True, help="Clip length.")
@click.option("--content", type=click.Choice([*CONTENT_KINDS, "mixed"]), default="mixed",
              show_default=True, help="What the screen shows; mixed: a random kind per scene.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Names the clip: the same seed and options give the same frames.")
@click.option("--fps", type=click.FloatRange(1, 240), default=30.0, show_default=True)
@click.option("--crf", type=click.IntRange(0, 51), default=20, show_default=True,
              help="H.264 quality of the moiré clip, lower is better.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON line.")
def synth(out: Path, clean: Path, size: tuple[int, int], seconds: float, content: str,
          seed: int, fps: float, crf: int, quiet: bool, as_json: bool) -> None:
    """Write a simulated phone video of a screen to OUT (H.264 .mp4), and its exactly aligned,
    moiré-free twin to --clean.

    The camera moves as a hand holds it and zooms slowly, long documents scroll, and every 2 to
    4 seconds a cut brings a new screen and a new camera.
    """
    if frame_count(seconds, fps) < 1:
        raise click.BadParameter(f"{seconds} s at {fps} fps is not one frame",
                                 param_hint="--seconds")
    _check_outputs(out, clean)
    width, height = size
    try:
        with sigterm_as_interrupt():
            summary = write_clip(out, clean, width, height, seconds, fps=fps, kind=content,
                                 seed=seed, crf=crf, progress=not quiet)
    except KeyboardInterrupt as exc:
        _fail(*stopped_by(exc))
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        _fail(f"synth failed: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)")
    if as_json:
        click.echo(json.dumps(summary))
    elif not quiet:
        kinds = ", ".join(summary["scene_kinds"])
        click.echo(f"wrote {out} and {clean}: {summary['frames']} frames, "
                   f"{summary['scenes']} scene(s) ({kinds})")
