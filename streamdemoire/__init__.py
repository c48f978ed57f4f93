"""streamdemoire: remove moiré from camera footage of screens, from files and live feeds."""

import os

# Before anything loads torch, and with it libgomp, which reads this once: OpenMP threads that
# wait at a barrier sleep instead of spinning. The pipeline's decoder and encoder threads share
# the cores with torch's, and a spinning torch thread burns the slice its partner (preempted
# by them) needs to reach the barrier: on a 2-core machine, profiling `clean` at 720p found
# half its CPU time spinning in libgomp, and passive waiting took the model stage from 1.4 to
# 0.4 CPU-seconds per frame. A user's own setting wins; so does importing torch first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .api import Demoirer  # noqa: E402  (after the OpenMP setting, on purpose)

__all__ = ["Demoirer"]
__version__ = "0.1.0"
