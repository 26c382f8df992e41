"""Snapshots: a programme's state as plain JSON-ready data, and back.

A store keeps the history as the truth, but re-folding thousands of histories
to show a dashboard is wasted work; a snapshot lets it keep the state beside
the history. The packed fields of :class:`ProgrammeState` depend on the order
of a definition's roles, deliverables and events, so a snapshot spells them out
in names (participants, submissions, fired events, scheduled dates) and names
the definition it was taken under, with its digest: loading it under another
text of that definition is refused rather than silently misread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import cattrs

from peerflow._errors import PeerflowError
from peerflow.engine._budget import Claim
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._registry import definition as lookup_definition
from peerflow.engine._state import ID_SEPARATOR, ProgrammeState, Waiver
from peerflow.events._envelope import parse_timestamp

SNAPSHOT_FORMAT = 2
"""Bumped when a snapshot's shape changes; format 1 (``version`` for the next seq) is still
read, older or newer ones are refused (the store then folds the history)."""


class SnapshotError(PeerflowError, ValueError):
    """A snapshot cannot be loaded; ``field`` says where (``$.claims[0].paid``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"snapshot {field}: {message}")


def _structure_decimal(value: Any, _: type) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f'expected an amount as a string like "92.50", got {value!r}')
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def _structure_date(value: Any, _: type) -> date:
    if not isinstance(value, str):
        raise ValueError(f"expected a date like 2027-02-01, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a date like 2027-02-01, got {value!r}") from None


def _structure_datetime(value: Any, _: type) -> datetime:
    return parse_timestamp(value, "timestamp")


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, _structure_date)
    return converter


_converter = _make_converter()


def dump_state(state: ProgrammeState) -> dict[str, Any]:
    """The state as JSON-ready data that :func:`load_state` turns back into an equal state."""
    compiled = state.definition
    events = len(compiled.event_names)
    fired = {
        name: moment.isoformat()
        for name, moment in zip(compiled.event_names, state.marks[:events], strict=False)
        if moment is not None
    }
    scheduled = {
        name: day.isoformat()
        for name, day in zip(compiled.date_names, state.marks[events:], strict=False)
        if day is not None
    }
    data: dict[str, Any] = {
        "snapshot": SNAPSHOT_FORMAT,
        "definition": {
            "id": compiled.id,
            "version": compiled.version,
            "digest": compiled.digest,
        },
        "programme": state.programme,
        "state": state.state,
        "next_seq": state.next_seq,
        "started_at": state.started_at.isoformat(),
        "last_at": state.last_at.isoformat(),
        "timezone": state.timezone,
        "country": state.country,
        "participants": [{"id": pid, "role": role} for pid, role in state.members()],
        "submitted": [{"deliverable": d, "participant": p} for d, p in state.submissions()],
        "fired": fired,
        "scheduled": scheduled,
        "waivers": _converter.unstructure(state.waivers, tuple[Waiver, ...]),
        "claims": _converter.unstructure(state.claims, tuple[Claim, ...]),
    }
    if compiled.counted_events:  # only a definition whose steps count others has counts
        data["counts"] = {
            event: n for event, n in zip(compiled.counted_events, state.counts, strict=False) if n
        }
    if compiled.conditions:  # only a definition with conditional requirements has facts
        data["facts"] = [
            {"deliverable": c.deliverable, "part": c.part, "equals": c.equals}
            for i, c in enumerate(compiled.conditions)
            if state.facts >> i & 1
        ]
    return data


def load_state(
    data: Mapping[str, Any], definition: CompiledDefinition | None = None
) -> ProgrammeState:
    """A state from :func:`dump_state` data; ``definition`` defaults to the built-in it names.

    Raises :class:`SnapshotError` naming the field at fault; nothing is half-loaded.
    """
    if not isinstance(data, Mapping):
        raise SnapshotError("$", f"expected an object, got {type(data).__name__}")
    if data.get("snapshot") == 1 and "version" in data and "next_seq" not in data:
        # format 1 called the next seq "version", like the definition's: read it as it was
        data = {("next_seq" if k == "version" else k): v for k, v in data.items()}
        data["snapshot"] = SNAPSHOT_FORMAT
    expected = {
        "snapshot",
        "definition",
        "programme",
        "state",
        "next_seq",
        "started_at",
        "last_at",
        "timezone",
        "country",
        "participants",
        "submitted",
        "fired",
        "scheduled",
        "waivers",
        "claims",
    }
    missing = sorted(expected - set(data))
    if missing:
        raise SnapshotError(f"$.{missing[0]}", "missing")
    # facts and counts: only where the definition has them (and older snapshots have none)
    extra = sorted(set(data) - expected - {"facts", "counts"})
    if extra:
        raise SnapshotError(f"$.{extra[0]}", "unknown field")
    if data["snapshot"] != SNAPSHOT_FORMAT:
        raise SnapshotError(
            "$.snapshot",
            f"format {data['snapshot']!r} is not supported (expected {SNAPSHOT_FORMAT}); "
            "fold the history instead",
        )
    compiled = _definition_for(data["definition"], definition)
    t = compiled.type
    state = _text(data, "state")
    if state not in t.states:
        raise SnapshotError("$.state", f"'{state}' is not a state of '{compiled.id}'")
    next_seq = data["next_seq"]
    if isinstance(next_seq, bool) or not isinstance(next_seq, int) or next_seq < 1:
        raise SnapshotError("$.next_seq", f"expected a whole number 1 or more, got {next_seq!r}")
    people, roles = _participants(data["participants"], compiled)
    marks = _marks(data["fired"], data["scheduled"], compiled)
    country = data["country"]
    if country is not None and not isinstance(country, str):
        raise SnapshotError("$.country", f"expected a country code or null, got {country!r}")
    result = ProgrammeState(
        definition=compiled,
        programme=_text(data, "programme"),
        state=state,
        next_seq=next_seq,
        started_at=_moment(data, "started_at"),
        last_at=_moment(data, "last_at"),
        timezone=_text(data, "timezone"),
        country=country,
        people=ID_SEPARATOR.join(people),
        roles=roles,
        marks=marks,
        waivers=_structure(data["waivers"], tuple[Waiver, ...], "waivers"),
        claims=_structure(data["claims"], tuple[Claim, ...], "claims"),
        facts=_facts(data.get("facts", []), compiled),
        counts=_counts(data.get("counts", {}), compiled),
    )
    return _with_submissions(result, data["submitted"])


def _counts(data: Any, compiled: CompiledDefinition) -> tuple[int, ...]:
    """How often each counted event fired, in the definition's order (empty: never)."""
    if not isinstance(data, Mapping):
        raise SnapshotError("$.counts", "expected an object of event: times")
    counts = [0] * len(compiled.counted_events)
    for event, times in data.items():
        if event not in compiled.counted_events:
            raise SnapshotError(f"$.counts.{event}", f"no step of '{compiled.id}' counts it")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise SnapshotError(
                f"$.counts.{event}", f"expected a whole number 1 or more, got {times!r}"
            )
        position = compiled.counted_events.index(event)
        counts[position] = min(times, compiled.tables.count_caps[position])  # counting stops there
    return tuple(counts) if any(counts) else ()


def _facts(data: Any, compiled: CompiledDefinition) -> int:
    """The conditions that hold, by what they read, as bits in the definition's order."""
    if not isinstance(data, list):
        raise SnapshotError("$.facts", "expected a list of {deliverable, part, equals}")
    bits = 0
    for i, item in enumerate(data):
        where = f"$.facts[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"deliverable", "part", "equals"}:
            raise SnapshotError(where, "expected {deliverable, part, equals}")
        found = next(
            (
                n
                for n, c in enumerate(compiled.conditions)
                if (c.deliverable, c.part) == (item["deliverable"], item["part"])
                and type(c.equals) is type(item["equals"])
                and c.equals == item["equals"]
            ),
            None,
        )
        if found is None:
            raise SnapshotError(where, f"no step of '{compiled.id}' reads this condition")
        bits |= 1 << found
    return bits


def _definition_for(named: Any, given: CompiledDefinition | None) -> CompiledDefinition:
    if not isinstance(named, Mapping) or not isinstance(named.get("id"), str):
        raise SnapshotError("$.definition", "expected an object with 'id', 'version', 'digest'")
    version = named.get("version")
    if given is None:
        try:
            given = lookup_definition(named["id"], version if isinstance(version, int) else None)
        except LookupError as exc:
            raise SnapshotError("$.definition", str(exc)) from None
    if (named["id"], version) != (given.id, given.version):
        raise SnapshotError(
            "$.definition",
            f"taken under '{named['id']}' v{version}, not '{given.id}' v{given.version}",
        )
    digest = named.get("digest")
    if digest and given.digest and digest != given.digest:
        raise SnapshotError(
            "$.definition.digest",
            f"taken under another text of '{given.id}' v{given.version}; "
            "fold the programme's history with the definition it ran on instead",
        )
    return given


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise SnapshotError(f"$.{key}", f"expected a non-empty string, got {value!r}")
    return value


def _moment(data: Mapping[str, Any], key: str) -> datetime:
    try:
        return parse_timestamp(data[key], key)
    except ValueError as exc:
        raise SnapshotError(f"$.{key}", str(exc)) from None


def _participants(value: Any, compiled: CompiledDefinition) -> tuple[list[str], bytes]:
    if not isinstance(value, list) or not value:
        raise SnapshotError("$.participants", "expected a non-empty list of {id, role}")
    people, roles = [], bytearray()
    for i, member in enumerate(value):
        where = f"$.participants[{i}]"
        if not isinstance(member, Mapping) or set(member) != {"id", "role"}:
            raise SnapshotError(where, "expected an object with 'id' and 'role'")
        pid, role = member["id"], member["role"]
        if not isinstance(pid, str) or not pid or ID_SEPARATOR in pid:
            raise SnapshotError(f"{where}.id", f"not a participant id: {pid!r}")
        if role not in compiled.role_index:
            raise SnapshotError(f"{where}.role", f"'{role}' is not a role of '{compiled.id}'")
        people.append(pid)
        roles.append(compiled.role_index[role])
    return people, bytes(roles)


def _marks(fired: Any, scheduled: Any, compiled: CompiledDefinition) -> tuple[date | None, ...]:
    """Fired events' moments, then scheduled dates, at the positions the definition packs them."""
    marks = list(compiled.no_marks)
    if not isinstance(fired, Mapping):
        raise SnapshotError("$.fired", "expected an object of event name: timestamp")
    if not isinstance(scheduled, Mapping):
        raise SnapshotError("$.scheduled", "expected an object of date name: date")
    for name, text in fired.items():
        if name not in compiled.event_index:
            raise SnapshotError(f"$.fired.{name}", f"not an event of '{compiled.id}'")
        marks[compiled.event_index[name]] = _parsed(f"$.fired.{name}", parse_timestamp, text)
    offset = len(compiled.event_names)
    for name, text in scheduled.items():
        if name not in compiled.date_index:
            raise SnapshotError(f"$.scheduled.{name}", f"not a date of '{compiled.id}'")
        day = _parsed(f"$.scheduled.{name}", lambda v: _structure_date(v, date), text)
        marks[offset + compiled.date_index[name]] = day
    return tuple(marks)


def _parsed(field: str, parse: Callable[[Any], date], value: Any) -> date:
    try:
        return parse(value)
    except ValueError as exc:
        raise SnapshotError(field, str(exc)) from None


def _structure(value: Any, kind: Any, key: str) -> Any:
    try:
        return _converter.structure(value, kind)
    except Exception as exc:  # cattrs raises ClassValidationError or plain errors
        first = cattrs.transform_error(exc, path=f"$.{key}", format_exception=_reason)[0]
        message, _, field = first.rpartition(" @ ")
        raise SnapshotError(field or f"$.{key}", message or first) from None


def _reason(exc: BaseException, kind: type | None) -> str:
    """Our own hooks' messages as they are; cattrs' wording for the rest."""
    if isinstance(exc, ValueError) and type(exc) is ValueError:
        return str(exc)
    if isinstance(exc, KeyError):
        return "missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown field(s) {sorted(exc.extra_fields)}"
    return f"expected {getattr(kind, '__name__', kind)}"


def _with_submissions(state: ProgrammeState, value: Any) -> ProgrammeState:
    if not isinstance(value, list):
        raise SnapshotError("$.submitted", "expected a list of {deliverable, participant}")
    bits = 0
    for i, item in enumerate(value):
        where = f"$.submitted[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"deliverable", "participant"}:
            raise SnapshotError(where, "expected an object with 'deliverable' and 'participant'")
        bit = state.definition.submission_bit(state, item["deliverable"], item["participant"])
        if bit is None:
            raise SnapshotError(
                where,
                f"no deliverable {item['deliverable']!r} or participant {item['participant']!r}",
            )
        bits |= 1 << bit
    return attrs.evolve(state, submitted=bits)
