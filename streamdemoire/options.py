"""Command-line options that several commands share, defined once so they read the same.

``model_options`` (which network runs where), ``sharpen_option`` (how crisp its output) and
``temporal_options`` (smoothing over time) decorate ``clean``, ``live`` and ``worker``; each
command passes the values on to ``Demoirer``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from .engine import BACKENDS
from .sharpen import DEFAULT_AMOUNT, MAX_AMOUNT
from .temporal import DEFAULT_STRENGTH


def _apply(command: Callable, options: list[Callable]) -> Callable:
    for option in reversed(options):  # so --help lists them in the order written here
        command = option(command)
    return command


def model_options(command: Callable) -> Callable:
    """``--backend``, ``--device``, ``--checkpoint`` and ``--engine``."""
    return _apply(command, [
        click.option("--backend", type=click.Choice(list(BACKENDS)), default="auto",
                     show_default=True,
                     help="auto: tensorrt where it can run, else torch on CUDA, else torch on "
                          "the CPU."),
        click.option("--device", default="auto", show_default=True,
                     help="auto, cpu, cuda, cuda:1, ..."),
        click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path),
                     help="Model weights [default: the shipped checkpoint]."),
        click.option("--engine", "engine_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="A TensorRT engine built by tools/build_engine.py (implies --backend "
                          "tensorrt)."),
    ])


def sharpen_option(command: Callable) -> Callable:
    """``--sharpen``."""
    return click.option("--sharpen", type=click.FloatRange(0.0, MAX_AMOUNT),
                        default=DEFAULT_AMOUNT, show_default=True,
                        help="Luma sharpening after the network, which alone is softer than "
                             "the screen (0 turns it off; see streamdemoire/sharpen.py).")(command)


def temporal_options(command: Callable) -> Callable:
    """``--temporal/--no-temporal`` and ``--temporal-strength``."""
    return _apply(command, [
        click.option("--temporal/--no-temporal", default=True, show_default=True,
                     help="Smooth the output over time against flicker (motion-compensated; "
                          "moving content, scene cuts and reconnects are left alone)."),
        click.option("--temporal-strength", type=click.FloatRange(0.0, 1.0, max_open=True),
                     default=DEFAULT_STRENGTH, show_default=True,
                     help="Largest weight of the motion-compensated history where the picture "
                          "holds still; higher is steadier (0 turns smoothing off)."),
    ])
