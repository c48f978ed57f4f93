"""CI runs the README's test command: the command a user is told to run is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readmes_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    test_block = re.search(r"^The tests .*:\n\n```bash\n(.+)\n```$", readme, re.M)
    assert test_block, "the README no longer shows its test command in a block of its own"
    assert test_block[1] == "bash .ci/run"  # CI runs `bash .ci/run`, exactly this


def test_ci_installs_then_runs_ruff_and_pytest():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-2:] == ["ruff check streamdemoire tools tests", 'pytest -q "$@"']
    assert "pip install -q torch==2.13.0 -e '.[test]'" in commands
