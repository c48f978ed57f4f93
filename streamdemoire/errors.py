"""Errors the user can act on.

Anything raised as a ``UserError`` reaches the command line as one line on stderr and a
non-zero exit code, never a traceback: its message must say what went wrong and, where it
can, what to do instead.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the input, the output or the options; the message is for the user."""
