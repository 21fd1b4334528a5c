"""The Python helpers of .ci/ (not a package: the folder starts with a dot), imported by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CI = Path(__file__).resolve().parents[2] / ".ci"


def load(name: str) -> ModuleType:
    """.ci/<name>.py as the module `ci_<name>` (registered, so dataclasses can resolve it)."""
    module_name = f"ci_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, CI / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
