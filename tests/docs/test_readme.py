"""The README's quickstart is the first tutorial's code (which the tutorial tests run)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_readme_quickstart_is_copied_from_tutorial_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```python\n(.*?)```", readme, re.S)
    assert block, "README.md has a Quickstart section with a python block"
    tutorial = (ROOT / "tutorials" / "01_quickstart.py").read_text()
    for constant in ("N_TRAIN", "N_VAL"):  # the README shows the full-mode sizes
        full_size = re.search(rf"{constant} = \d+ if FAST else (\d+)", tutorial).group(1)
        tutorial = tutorial.replace(constant, full_size)
    assert block.group(1).strip() in tutorial, "README and tutorial 1 differ"
