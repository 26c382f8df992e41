"""What the top-level namespace offers: every name a caller meets in a result or an error can
be imported from ``peerflow`` (issue 15 pins the whole list once the layout settles)."""

from __future__ import annotations

import importlib
import pkgutil
import typing

import peerflow
from peerflow._blockers import Blocker


def subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(subclasses(sub) for sub in found))


def test_every_name_listed_in_all_is_there() -> None:
    missing = [name for name in peerflow.__all__ if not hasattr(peerflow, name)]
    assert missing == []


def test_every_blocker_class_is_exported_with_its_kind() -> None:
    """A caller matching on blockers (``isinstance(b, peerflow.OverBudget)``) finds every kind."""
    exported = {cls.kind: cls.__name__ for cls in subclasses(Blocker)}
    assert sorted(exported) == sorted(peerflow.BLOCKER_KINDS)
    assert [name for name in exported.values() if name not in peerflow.__all__] == []


def test_every_error_raised_on_purpose_is_exported_and_a_peerflow_error() -> None:
    from peerflow._errors import PeerflowError  # noqa: PLC0415 - the base, to walk from

    errors = subclasses(PeerflowError)
    assert [e.__name__ for e in errors if e.__name__ not in peerflow.__all__] == []


def peerflow_types(hint: object) -> set[type]:
    """The peerflow classes a type hint names, inside containers and unions too."""
    found = {hint} if isinstance(hint, type) and hint.__module__.startswith("peerflow") else set()
    return found.union(*(peerflow_types(arg) for arg in typing.get_args(hint)))


def every_name() -> dict[str, object]:
    """Every name of every peerflow module: hints name types imported only for type checking."""
    names: dict[str, object] = {}
    for module in pkgutil.iter_modules(peerflow.__path__, "peerflow."):
        names.update(vars(importlib.import_module(module.name)))
    return names


def test_every_type_a_public_method_returns_is_exported() -> None:
    """``Store.programme`` returns a ``ProgrammeRow``; a caller annotating it imports it."""
    returned: dict[str, str] = {}
    for name in peerflow.__all__:
        owner = getattr(peerflow, name)
        members = vars(owner).items() if isinstance(owner, type) else [(name, owner)]
        for member_name, member in members:
            if member_name.startswith("_") or not callable(member):
                continue
            hints = typing.get_type_hints(member, localns=every_name())
            for cls in peerflow_types(hints.get("return")):
                returned[cls.__name__] = f"{name}.{member_name}"
    assert {n: where for n, where in returned.items() if n not in peerflow.__all__} == {}


def test_a_state_prints_in_names_not_in_its_packing() -> None:
    """``print(state)`` is how a developer first meets a state: participants by role, what was
    submitted by whom, when events fired; never the separator-joined ids or bit integers."""
    from peerflow._registry import example_path  # noqa: PLC0415 - the shipped example

    history = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    shown = repr(peerflow.fold(history[:12]))
    assert shown.startswith(
        "ProgrammeState(programme='prospect-2027-ghent', definition='prospect-peer-mentoring', "
        "state='getting_started', version=12, participants={'anna-facilitator': 'facilitator', "
    )
    assert "('learning_needs', 'porto-mentee')" in shown
    assert "fired={'hold_orientation': '2027-02-01T10:00:00+01:00'}" in shown
    assert "dates={'orientation_date': '2027-02-01'}" in shown
    assert "\\x1f" not in shown and "people=" not in shown and "roles=b" not in shown
