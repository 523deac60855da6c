"""Every tutorial (tutorials/NN_topic.py) runs end to end as a plain script in fast mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9]*.py"))

# The tutorials load the embedded real models.
pytestmark = pytest.mark.real


@pytest.mark.parametrize("script", TUTORIALS, ids=[script.stem for script in TUTORIALS])
def test_tutorial_runs_in_fast_mode(script: Path) -> None:
    # EDSHOOK_DATA comes from the environment (tests/conftest.py sets it when ../shared/data exists).
    env = {**os.environ, "EDSHOOK_FAST": "1", "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(script.relative_to(ROOT))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (
        f"{script.name} exited with {result.returncode}.\n"
        f"--- stdout (last 3000 characters)\n{result.stdout[-3000:]}\n"
        f"--- stderr\n{result.stderr[-10000:]}"
    )
