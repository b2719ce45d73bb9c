"""Locate data files that ship inside installed packages (model weights, voices, GGUFs) without importing them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import ExpertUnavailable


def package_file(package: str, *parts: str) -> Path:
    """The path of ``parts`` inside installed ``package`` (the package itself when no parts are given).

    Raises ``ExpertUnavailable`` when the package is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExpertUnavailable(f"Package {package!r} is not installed.",
                                hint=f"pip install {package.replace('_', '-')}")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.exists():
        raise ExpertUnavailable(f"{path} is missing from package {package!r}.", hint="Reinstall the package.")
    return path
