"""The public API, pinned: the top level for embedding and four namespaces, each name listed.

A change to this list is a change to what users may import; it is made here on purpose (as
temporal's SDK pins its exports), never by accident. Every name a caller meets in a result or
an error can be imported from one of these namespaces.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
import typing

import pytest

import peerflow
from peerflow.engine._blockers import Blocker


def subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(subclasses(sub) for sub in found))


PINNED = {
    "peerflow": [
        "Actor",
        "BLOCKER_KINDS",
        "Blocker",
        "BlockerKind",
        "Breaking",
        "Claim",
        "ClaimedItem",
        "CompiledDefinition",
        "ConcurrencyError",
        "ConfigError",
        "DateNotScheduled",
        "Deadline",
        "DeadlineKind",
        "DefinitionError",
        "Event",
        "EventError",
        "EventIdTaken",
        "Forecast",
        "HistoryError",
        "IncompleteContent",
        "MissingDeliverable",
        "MissingReceipts",
        "NoSuchProgramme",
        "OverBudget",
        "ParticipantLimit",
        "PeerflowError",
        "ParticipationKind",
        "PlannedStep",
        "Problem",
        "Programme",
        "ProgrammeState",
        "RoleNotAllowed",
        "SnapshotError",
        "Step",
        "StepForecast",
        "StepKind",
        "StepBlocked",
        "StepNotAvailable",
        "StoreError",
        "TooFewOccurrences",
        "TooFewParticipants",
        "UnknownDefinition",
        "Waiver",
        "WindowClosed",
        "WindowNotOpen",
        "__version__",
        "builtin_files",
        "compile_text",
        "definition",
        "fold",
        "forecast",
        "load_definition",
        "read_history",
        "write_history",
    ],
    "peerflow.replay": [
        "DEVIATION_KINDS",
        "Deviation",
        "DeviationKind",
        "EventRecord",
        "Histories",
        "ProgrammeReplay",
        "Replay",
        "example_path",
        "read_histories",
        "replay",
        "replay_files",
        "replay_many",
        "state_at",
        "summarise",
        "to_dataframe",
        "write_events_csv",
        "write_ocel",
        "write_parquet",
        "write_programmes_csv",
        "write_xes",
    ],
    "peerflow.store": [
        "AgendaItem",
        "Backend",
        "DEFAULT_STORE",
        "ProgrammeRow",
        "Store",
        "Transaction",
        "dump_state",
        "load_state",
        "open_store",
    ],
    "peerflow.checking": [
        "Check",
        "Edge",
        "Exploration",
        "Report",
        "check",
        "complete_content",
        "explore",
    ],
    "peerflow.model": [
        "ProgrammeType",
        "parse_definition",
    ],
    "peerflow.cli": [
        "main",
    ],
}
NAMESPACES = {name: importlib.import_module(name) for name in PINNED}


def public(namespace: str) -> dict[str, object]:
    """Every name the namespace offers: its ``__all__``, each checked to be there."""
    module = NAMESPACES[namespace]
    return {name: getattr(module, name) for name in module.__all__}


@pytest.mark.parametrize("namespace", sorted(PINNED))
def test_each_namespace_offers_exactly_the_pinned_names(namespace: str) -> None:
    assert sorted(public(namespace)) == sorted(PINNED[namespace])


@pytest.mark.parametrize("namespace", sorted(PINNED))
def test_no_public_name_leaks_past_all(namespace: str) -> None:
    """Names without an underscore that are not in ``__all__`` are modules of the package."""
    module = NAMESPACES[namespace]
    leaked = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in module.__all__
        and not inspect.ismodule(value)
        and name != "annotations"
    ]
    assert leaked == []


def test_namespaces_load_on_first_use() -> None:
    """``import peerflow`` then ``peerflow.replay.replay(...)`` works without another import."""
    assert peerflow.replay.replay is NAMESPACES["peerflow.replay"].replay  # type: ignore[attr-defined]
    assert peerflow.store.Store is NAMESPACES["peerflow.store"].Store  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        peerflow.nope  # type: ignore[attr-defined]  # noqa: B018


def test_one_name_means_one_thing_across_namespaces() -> None:
    """A name offered twice is the same object, so there is one way to reach each thing."""
    seen: dict[str, object] = {}
    for namespace in PINNED:
        for name, value in public(namespace).items():
            assert seen.setdefault(name, value) is value, f"{namespace}.{name} differs"


def test_every_blocker_class_is_exported_with_its_kind() -> None:
    """A caller matching on blockers (``isinstance(b, peerflow.OverBudget)``) finds every kind."""
    exported = {cls.kind: cls.__name__ for cls in subclasses(Blocker)}
    assert sorted(exported) == sorted(peerflow.BLOCKER_KINDS)
    assert [name for name in exported.values() if name not in peerflow.__all__] == []


def test_every_error_raised_on_purpose_is_exported_and_a_peerflow_error() -> None:
    from peerflow._errors import PeerflowError  # noqa: PLC0415 - the base, to walk from

    errors = subclasses(PeerflowError)
    assert [e.__name__ for e in errors if e.__name__ not in peerflow.__all__] == []


def test_every_exception_class_in_the_library_is_a_peerflow_error() -> None:
    """One base for everything raised on purpose: ``except peerflow.PeerflowError`` catches all."""
    strays = sorted(
        f"{value.__module__}.{value.__name__}"
        for module in every_module()
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and not value.__name__.startswith("_")  # caught inside and said again as one of ours
        and value.__module__ == module.__name__
        and not issubclass(value, peerflow.PeerflowError)
    )
    assert strays == []


def peerflow_types(hint: object) -> set[type]:
    """The peerflow classes a type hint names, inside containers and unions too."""
    found = {hint} if isinstance(hint, type) and hint.__module__.startswith("peerflow") else set()
    return found.union(*(peerflow_types(arg) for arg in typing.get_args(hint)))


def every_module() -> list[types.ModuleType]:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(peerflow.__path__, "peerflow.")
        if not info.name.endswith("__main__")  # running it would start the command line
    ]


def every_name() -> dict[str, object]:
    """Every name of every peerflow module: hints name types imported only for type checking."""
    names: dict[str, object] = {}
    for module in every_module():
        names.update(vars(module))
    return names


def test_every_type_a_public_method_returns_is_exported() -> None:
    """``Store.programme`` returns a ``ProgrammeRow``; a caller annotating it imports it."""
    returned: dict[str, str] = {}
    offered = {name for namespace in PINNED for name in public(namespace)}
    owners = [(name, owner) for ns in PINNED for name, owner in public(ns).items()]
    for name, owner in owners:
        members = vars(owner).items() if isinstance(owner, type) else [(name, owner)]
        for member_name, member in members:
            if member_name.startswith("_") or not (
                inspect.isroutine(member) or isinstance(member, type)
            ):
                continue
            hints = typing.get_type_hints(member, localns=every_name())
            for cls in peerflow_types(hints.get("return")):
                returned[cls.__name__] = f"{name}.{member_name}"
    assert {n: where for n, where in returned.items() if n not in offered} == {}


def test_a_state_prints_in_names_not_in_its_packing() -> None:
    """``print(state)`` is how a developer first meets a state: participants by role, what was
    submitted by whom, when events fired; never the separator-joined ids or bit integers."""
    from peerflow.engine._registry import example_path  # noqa: PLC0415 - the shipped example

    history = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    shown = repr(peerflow.fold(history[:12]))
    assert shown.startswith(
        "ProgrammeState(programme='prospect-2027-ghent', definition='prospect-peer-mentoring', "
        "state='getting_started', next_seq=12, participants={'anna-facilitator': 'facilitator', "
    )
    assert "('learning_needs', 'porto-mentee')" in shown
    assert "fired={'hold_orientation': '2027-02-01T10:00:00+01:00'}" in shown
    assert "dates={'orientation_date': '2027-02-01'}" in shown
    assert "\\x1f" not in shown and "people=" not in shown and "roles=b" not in shown


def test_the_kinds_as_types_are_the_kinds_at_run_time() -> None:
    """``BlockerKind`` and friends are ``Literal`` types a caller can match on; each names
    exactly the kinds the library produces."""
    assert set(typing.get_args(peerflow.BlockerKind)) == set(peerflow.BLOCKER_KINDS)
    assert typing.get_args(peerflow.replay.DeviationKind) == peerflow.replay.DEVIATION_KINDS
    steps = set(typing.get_args(peerflow.StepKind))
    assert steps == {"fire", "submit", "schedule"}
    assert set(typing.get_args(peerflow.DeadlineKind)) == steps | {"payment", "programme"}
    participation = {s.kind for d in peerflow.builtin_files() for s in _all_offered(d)}
    assert participation - steps == set(typing.get_args(peerflow.ParticipationKind))


def _all_offered(definition_id: str) -> list[peerflow.Step]:
    """Every step offered with participation at each event of the example."""
    path = peerflow.replay.example_path(definition_id)
    history = [e for _, e in peerflow.read_history(path)]
    found = []
    for i in range(1, len(history) + 1):
        p = peerflow.Programme.from_history(history[:i])
        found += p.next_steps(history[i - 1].at, participation=True)
    return found
