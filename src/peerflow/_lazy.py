"""Namespaces that load their modules on first use: ``import peerflow`` and the command
line's start stay cheap, and each name still lives in one private module."""

from __future__ import annotations

import importlib

_TYPE_CHECKING = False  # True for mypy: this module is on every import's path, keep it bare

if _TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_names(
    package: str, table: Mapping[str, str], public: list[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names ``table`` maps to modules."""
    namespace = importlib.import_module(package)

    def attribute(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(namespace, name, value)  # the next use is a plain lookup
        return value

    def listing() -> list[str]:
        return sorted({*vars(namespace), *public})

    return attribute, listing
