"""streamdemoire: remove moiré from camera footage of screens, from files and live feeds."""

from .api import Demoirer

__all__ = ["Demoirer"]
__version__ = "0.1.0"
