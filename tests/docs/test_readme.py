"""The README's quickstart is the first tutorial's code (which the tutorial tests run)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def code_lines(text: str) -> list[str]:
    """The lines of code, without comments or blank lines."""
    lines = (line.split("  #")[0].rstrip() for line in text.splitlines())
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_readme_quickstart_is_copied_from_tutorial_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```python\n(.*?)```", readme, re.S)
    assert block, "README.md has a Quickstart section with a python block"
    tutorial = (ROOT / "tutorials" / "01_quickstart.py").read_text()
    for constant in ("N_TRAIN", "N_VAL", "TOKENS"):  # the README shows the full-mode sizes
        full_size = re.search(rf"{constant} = \d+ if FAST else (\d+)", tutorial).group(1)
        tutorial = tutorial.replace(constant, full_size)
    remaining = iter(code_lines(tutorial))
    missing = [line for line in code_lines(block.group(1)) if line not in remaining]
    assert not missing, f"README lines not in tutorial 1, in its order: {missing}"
