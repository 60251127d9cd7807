"""Data shipped inside our packages, read through importlib.resources, so a wheel install works as well as a checkout."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

# A file or folder on disk (given in the settings) or inside a package.
Source = Path | Traversable


def packaged(package: str, *parts: str) -> Traversable:
    """`package/parts…` as installed, e.g. packaged("scripts_corpus", "lint.tsv")."""
    source = files(package)
    for part in parts:
        source = source / part
    return source


def children(source: Source, suffix: str) -> list[Traversable]:
    """The files in a folder whose name ends with `suffix`, sorted by name; a file itself if `source` is one."""
    if source.is_file():
        return [source]
    return sorted((c for c in source.iterdir() if c.is_file() and c.name.endswith(suffix)), key=lambda c: c.name)
