"""Small random draws, tolerant of tiny canvases, where a range can be empty."""

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def _ri(rng: np.random.Generator, lo: float, hi: float) -> int:
    """A uniform integer in [lo, hi]; ``lo`` when the range is empty (a tiny canvas)."""
    lo, hi = int(lo), int(hi)
    return lo if hi <= lo else int(rng.integers(lo, hi + 1))


def _ru(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A uniform float in [lo, hi); ``lo`` when the range is empty."""
    return float(lo) if hi <= lo else float(rng.uniform(lo, hi))


def _chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p``."""
    return bool(rng.random() < p)


def _pick(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One element of a sequence (``rng.choice`` would turn tuples into arrays)."""
    return options[int(rng.integers(len(options)))]


def _log_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer log-uniform in [lo, hi]: small values (tiny text) as common as large ones."""
    return min(hi, int(math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))))
