"""Every tutorial (tutorials/NN_topic.py) runs end to end in fast mode, on its own, and its notebook shows its figures.

Each tutorial asserts the claims its prose makes (numbers, answers) in fast mode too, so a tutorial
whose outputs stop matching its text fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9]*.py"))
NOTEBOOKS = ROOT / "docs" / "tutorials"

# The tutorials load the embedded real models.
pytestmark = pytest.mark.real


@pytest.mark.parametrize("script", TUTORIALS, ids=[script.stem for script in TUTORIALS])
def test_tutorial_runs_in_fast_mode(script: Path, tmp_path: Path) -> None:
    """Run from a folder of its own, so no tutorial reads what another one wrote."""
    # EDSHOOK_DATA comes from the environment (tests/conftest.py sets it when ../shared/data exists).
    env = {**os.environ, "EDSHOOK_FAST": "1", "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, (
        f"{script.name} exited with {result.returncode}.\n"
        f"--- stdout (last 3000 characters)\n{result.stdout[-3000:]}\n"
        f"--- stderr\n{result.stderr[-10000:]}"
    )


@pytest.mark.parametrize("script", TUTORIALS, ids=[script.stem for script in TUTORIALS])
def test_executed_notebook_shows_every_figure_and_no_local_paths(script: Path) -> None:
    notebook = NOTEBOOKS / f"{script.stem}.ipynb"
    assert notebook.is_file(), f"{notebook} is missing: run `make tutorials`"
    cells = json.loads(notebook.read_text())["cells"]
    outputs = [output for cell in cells if cell["cell_type"] == "code" for output in cell.get("outputs", [])]
    images = sum("image/png" in output.get("data", {}) for output in outputs)
    figures = script.read_text().count("plt.show()") + script.read_text().count("display(Image(")
    assert images >= figures, f"{notebook.name} shows {images} images, its script draws {figures}"
    text = json.dumps(outputs)
    assert "/work/" not in text and "site-packages" not in text, "no local paths in executed outputs"
    assert "Warning" not in text, "no warnings in executed outputs"
