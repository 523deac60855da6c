"""MkDocs hooks of the edshook site (declared under ``hooks:`` in ``mkdocs.yml``).

- Tutorials: every executed notebook ``docs/tutorials/[0-9]*.ipynb`` (written by ``make
  tutorials``) is appended to the nav's Tutorials section in file-name order, so the nav never
  lists a notebook that does not exist and never misses one that does.
- Benchmarks: ``docs/benchmarks.md`` includes ``BENCHMARKS.md`` from the repository root, whose
  images live in ``benchmarks/results/``. Those images are added to the site at the same relative
  path (nothing is copied into ``docs/``), so the links resolve unchanged.
- Docstrings: Sphinx roles such as ``:class:`EnergyModel``` are turned into code spans, linked to
  the API reference when the name is documented there.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

TUTORIALS_SECTION = "Tutorials"
RESULTS = Path("benchmarks") / "results"
IMAGE_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg", ".gif"}
ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):<code>(?P<target>[^<]+)</code>")


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    section = next((item for item in config.nav or [] if isinstance(item, dict) and TUTORIALS_SECTION in item), None)
    if section is None:
        return config
    entries = section[TUTORIALS_SECTION]
    listed = {entry if isinstance(entry, str) else next(iter(entry.values())) for entry in entries}
    folder = Path(config.docs_dir) / "tutorials"
    for notebook in sorted(folder.glob("[0-9]*.ipynb")):
        uri = f"tutorials/{notebook.name}"
        if uri not in listed:
            entries.append(uri)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    results = _root(config) / RESULTS
    for path in sorted(results.glob("*")) if results.is_dir() else ():
        uri = (RESULTS / path.name).as_posix()
        if path.suffix.lower() in IMAGE_SUFFIXES and files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_content(content: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    src = page.file.src_uri
    module = f"edshook.{src[len('api/') : -len('.md')]}" if src.startswith("api/") else None

    def replace(match: re.Match) -> str:
        target = html.unescape(match["target"]).strip()
        short = target.lstrip("~.").rsplit(".", 1)[-1] if target.startswith("~") else target.lstrip(".")
        title = f"<code>{html.escape(short)}</code>"
        identifier = target.lstrip("~.")
        if "." not in identifier:
            if module is None:
                return title
            identifier = f"{module}.{identifier}"
        return f'<autoref identifier="{html.escape(identifier)}" optional>{title}</autoref>'

    return ROLE.sub(replace, content)
