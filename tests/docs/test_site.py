"""The documentation site builds with no warning, and its command-line reference matches the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI_DOCS = ROOT / "docs" / "cli.md"
CLI_DOCS_COMMAND = ("-m", "typer", "edshook.cli", "utils", "docs", "--name", "edshook", "--title", "Command line")


def run(*args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_site_builds_strict(tmp_path):
    result = run("-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"), timeout=600)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    site = tmp_path / "site"
    for page in ("index.html", "concepts/index.html", "api/interventions/index.html", "benchmarks/index.html"):
        assert (site / page).is_file(), f"{page} is missing from the built site"
    assert (site / "benchmarks" / "results" / "effectiveness.png").is_file(), "BENCHMARKS.md's plot is not served"
    assert (site / "assets" / "energy_landscape.png").is_file()


def test_cli_reference_is_up_to_date(tmp_path):
    generated = tmp_path / "cli.md"
    result = run(*CLI_DOCS_COMMAND, "--output", str(generated), timeout=300)
    assert result.returncode == 0, f"typer utils docs failed:\n{result.stdout}\n{result.stderr}"
    assert CLI_DOCS.read_text(encoding="utf-8") == generated.read_text(encoding="utf-8"), (
        "docs/cli.md is out of date with edshook/cli.py. Regenerate it with `make docs`, or: "
        "python -m typer edshook.cli utils docs --name edshook --title 'Command line' --output docs/cli.md"
    )
