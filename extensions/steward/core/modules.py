"""Import a module that may not exist yet, telling "absent" apart from "broken"."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_import(module_name: str) -> ModuleType | None:
    """The module, or None when it (or a parent package) does not exist. An ImportError raised
    from inside an existing module still propagates, so a bug is never mistaken for absence."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        parts = module_name.split(".")
        prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
        if exc.name in prefixes:
            return None
        raise
