"""What each registered prompt set is, what the standard splits do with it, and whether it is on disk.

Examples:
    >>> catalog = data_catalog("/data")  # doctest: +SKIP
    >>> catalog["jbb_pair"].role  # doctest: +SKIP
    'test-only'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from edshook.data.builtin import SetSpec
from edshook.data.registry import SETS, find_set_file, resolve_data_dir
from edshook.data.splits import Role, standard_role
from edshook.errors import DataError

__all__ = ["Catalog", "CatalogEntry", "data_catalog", "describe_layout", "format_catalog"]

_COLUMNS = ("set", "kind", "role", "file")


@dataclass(frozen=True)
class CatalogEntry:
    """One registered set: its facts from the registry and where its file is, if anywhere.

    Attributes:
        name: The name :func:`~edshook.data.load_set` takes.
        harmful: Ground truth of every prompt in the set.
        role: What :func:`~edshook.data.standard_splits` does with the set.
        files: Paths relative to the data folder, tried in order, in any letter case.
        layout: The file format and the columns read (:func:`describe_layout`).
        origin: Where the set is published.
        path: The file found under the data folder, or ``None``.

    Examples:
        >>> entry = CatalogEntry("x", True, "test-only", ("x.csv",), "CSV: text goal", "GitHub a/b", None)
        >>> entry.kind, entry.found
        ('harmful', False)
    """

    name: str
    harmful: bool
    role: Role
    files: tuple[str, ...]
    layout: str
    origin: str
    path: Path | None

    @property
    def kind(self) -> Literal["harmful", "benign"]:
        """``"harmful"`` or ``"benign"``, from :attr:`harmful`."""
        return "harmful" if self.harmful else "benign"

    @property
    def found(self) -> bool:
        """Whether the set's file is in the data folder."""
        return self.path is not None


@dataclass(frozen=True)
class Catalog:
    """Every registered set, in registry order, checked against one data folder.

    Examples:
        >>> catalog = Catalog(Path("/data"), ())
        >>> catalog.missing
        ()
    """

    data_dir: Path
    entries: tuple[CatalogEntry, ...]

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, name: str) -> CatalogEntry:
        entry = next((entry for entry in self.entries if entry.name == name), None)
        if entry is None:
            raise DataError(f"unknown prompt set {name!r}; known sets: {', '.join(e.name for e in self.entries)}")
        return entry

    @property
    def missing(self) -> tuple[CatalogEntry, ...]:
        """The entries whose file is not in the data folder."""
        return tuple(entry for entry in self.entries if not entry.found)


def describe_layout(spec: SetSpec) -> str:
    """The file format and the columns a set is read from, in a few words.

    Examples:
        >>> from edshook.data import SETS
        >>> describe_layout(SETS["or_bench_hard"])
        'CSV: text Goal|prompt, category category'
    """
    formats = " or ".join(dict.fromkeys(PurePosixPath(f).suffix.lstrip(".").upper() for f in spec.files))
    fields = [f"text {'|'.join(spec.text_columns)}"]
    if spec.id_columns:
        fields.append(f"id {'|'.join(spec.id_columns)}")
    if spec.category_column:
        fields.append(f"category {spec.category_column}")
    if spec.keep is not None:
        fields.append(f"rows filtered on {spec.keep.column}")
    return f"{formats}: {', '.join(fields)}"


def data_catalog(data_dir: str | os.PathLike[str] | None = None) -> Catalog:
    """Every registered set with its kind, role, files, source and whether it is in the data folder.

    Args:
        data_dir: The data folder; ``None`` reads ``$EDSHOOK_DATA``.

    Examples:
        >>> catalog = data_catalog("/data")  # doctest: +SKIP
        >>> [entry.name for entry in catalog.missing]  # doctest: +SKIP
        ['xstest_safe', 'xstest_unsafe', 'oktest', 'phtest']
    """
    root = resolve_data_dir(data_dir)
    entries = tuple(
        CatalogEntry(
            name=spec.name,
            harmful=spec.harmful,
            role=standard_role(spec.name),
            files=spec.files,
            layout=describe_layout(spec),
            origin=spec.origin,
            path=find_set_file(spec, root),
        )
        for spec in SETS.values()
    )
    return Catalog(root, entries)


def format_catalog(catalog: Catalog) -> str:
    """The catalog as a plain-text table; then, for each missing set, what to put where and where to get it.

    Examples:
        >>> print(format_catalog(Catalog(Path("/data"), ())))
        data folder: /data (0 of 0 sets found)
        <BLANKLINE>
        set  kind  role  file
    """
    rows = [_COLUMNS, *(_row(entry, catalog.data_dir) for entry in catalog)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    found = len(catalog) - len(catalog.missing)
    lines = [f"data folder: {catalog.data_dir} ({found} of {len(catalog)} sets found)", ""]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    if catalog.missing:
        lines += ["", "missing (names match in any letter case; the first file found is read):"]
        for entry in catalog.missing:
            lines += [
                f"  {entry.name}: {', '.join(entry.files)}",
                f"    layout: {entry.layout}",
                f"    source: {entry.origin}",
            ]
    return "\n".join(lines)


def _row(entry: CatalogEntry, data_dir: Path) -> tuple[str, ...]:
    file = entry.path.relative_to(data_dir).as_posix() if entry.path is not None else "missing"
    return entry.name, entry.kind, entry.role, file
