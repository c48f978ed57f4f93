"""What differs between the PyAV releases streamdemoire runs on (pyproject: ``av>=17.1,<20``).

Python 3.11 gets PyAV 17.1-18.x; PyAV 19 needs Python 3.12+. Two of 19's changes reach this
code:

* Rational attributes (``time_base``, ``average_rate``, ``sample_aspect_ratio``...) are
  ``av.AVRational`` instead of ``Fraction``, and never None: unset is a falsy 0/1.
  ``source.as_fraction`` reads both kinds.
* Tags are always read and written as UTF-8 with ``surrogateescape`` (byte exact), and
  ``av.open`` no longer takes ``metadata_encoding``/``metadata_errors``. Older releases decode
  strictly, so one tag in another encoding (Latin-1, CP1251...) makes a file impossible to
  open; ``OPEN_KWARGS`` gives them 19's behaviour.
"""

from __future__ import annotations

import av.container

#: Extra ``av.open()`` arguments for every container this package opens, input or output.
OPEN_KWARGS: dict[str, str] = (
    {"metadata_errors": "surrogateescape"}
    if hasattr(av.container.Container, "metadata_errors") else {})
