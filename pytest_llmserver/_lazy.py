"""Package faces that import each name on first use (PEP 562): importing a face costs only
what the names a caller takes need, so registering the plugin does not load the engines."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_face(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the face of ``package``. ``exports`` maps each
    submodule (relative to ``package``) to the names it gives, separated by spaces; a name is
    imported from its submodule on first use and kept in the package."""
    home = {
        name: f"{package}.{module}" for module, names in exports.items() for name in names.split()
    }

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(module)  # not importlib.import_module: -X importtime times this import
        value = getattr(sys.modules[module], name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return __getattr__, __dir__
