"""CI runs the README's test command: the command a user is told to run is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    test_block = re.search(r"^The tests .*:\n\n```bash\n(.+)\n```$", readme, re.M)
    assert test_block, "the README no longer shows its test command in a block of its own"
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands == [test_block[1]]
    assert test_block[1] == "bash tools/test.sh"
