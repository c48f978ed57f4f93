"""``python -m streamdemoire``: the same command line as the ``streamdemoire`` script.

Workers start their helpers (and tests start workers) this way, so it works from any venv
whether or not its ``bin/`` is on PATH.
"""

from .cli import main

main()
