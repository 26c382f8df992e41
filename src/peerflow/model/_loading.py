"""From a YAML file to a checked :class:`ProgrammeType`.

Three passes, each reporting every problem it finds with file, line and path:
the YAML text, its shape (cattrs into the frozen model), and its meaning
(names, reachability, windows whose anchors may not have happened).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import cattrs
import cattrs.v
import pendulum
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from peerflow._errors import DefinitionError, Problem
from peerflow.model._calendar import known_countries
from peerflow.model._source import SourceMap, join_path, read_yaml
from peerflow.model._types import (
    ANY_STATE,
    INVOICE_ANCHOR,
    SELF,
    START_ANCHOR,
    Bound,
    ConditionalRequirement,
    ProgrammeType,
    Transition,
    Window,
)

_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CALENDAR_UNITS = ("days", "weeks", "months", "years")
BOUND_LIMITS = {
    "days": 36_500,
    "weeks": 5_200,
    "months": 1_200,
    "years": 100,
    "working_days": 26_000,
}
"""The most of each unit a bound may count (100 years): every window stays a real date."""


# --- shape: cattrs --------------------------------------------------------------


class _ShapeError(TypeError):
    """A value of the wrong shape, said in the definition language's words (its message is
    shown as it is, not replaced by cattrs' ``expected decimal.Decimal | None``)."""


_WORDS: dict[Any, str] = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    Decimal: "an amount like 450 or '92.50'",
    tuple[str, ...]: "a name or a list of names",
    tuple[int | str, ...]: "a non-empty list of allowed values",
}


def _words(kind: Any) -> str:
    """A type as the definition language names it."""
    if kind in _WORDS:
        return _WORDS[kind]
    args = [a for a in getattr(kind, "__args__", ()) if a is not type(None)]
    if len(args) == 1 and type(None) in getattr(kind, "__args__", ()):
        return f"{_words(args[0])} or null"
    if getattr(kind, "__origin__", None) is dict:
        return "a mapping of names"
    if attrs.has(kind):
        return f"a mapping (a {kind.__name__.lower()})"
    return getattr(kind, "__name__", str(kind))


def _shape_message(exc: BaseException, kind: Any) -> str:
    if isinstance(exc, _ShapeError):
        return str(exc)
    if isinstance(exc, TypeError | ValueError) and kind is not None:
        return f"expected {_words(kind)}"
    return cattrs.v.format_exception(exc, kind)


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise _ShapeError(f"expected a string, got {type(value).__name__} {value!r}")
    return value


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _ShapeError(f"expected a whole number, got {type(value).__name__} {value!r}")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise _ShapeError(f"expected true or false, got {type(value).__name__} {value!r}")
    return value


def _names(value: Any, _: type) -> tuple[str, ...]:
    """A list of names; a single name stands for a one-item list."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise _ShapeError(f"expected a name or a list of names, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise _ShapeError(f"expected names, got {type(item).__name__} {item!r} in the list")
    return tuple(value)


_AMOUNT_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def _money(value: Any, _: type) -> Decimal:
    """An amount of money: a whole number or a decimal, written as a number or quoted."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _ShapeError(f"expected an amount like 450 or '92.50', got {type(value).__name__}")
    if isinstance(value, str) and not _AMOUNT_TEXT.match(value):
        # the JSON Schema's pattern: no exponent, no spaces, no sign
        raise _ShapeError(f"expected an amount like 450 or '92.50', got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _ShapeError(f"expected an amount like 450 or '92.50', got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise _ShapeError(f"expected an amount of 0 or more, got {value!r}")
    return amount


def _choices(value: Any, _: type) -> tuple[int | str, ...]:
    if not isinstance(value, list) or not value:
        raise _ShapeError("expected a non-empty list of allowed values")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise _ShapeError(f"allowed values must be numbers or names, got {item!r}")
    return tuple(value)


def _choice(value: Any, _: type) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _ShapeError(f"expected a number or a name, got {value!r}")
    return value


def _on_the_day(value: Any) -> Any:
    """``{day_of: X}``: a window that opens and closes on X's day. (Not ``on``: YAML 1.1
    readers, editors' schema checkers among them, read that key as ``true``.)"""
    if not isinstance(value, dict) or "day_of" not in value:
        return value
    anchor = value["day_of"]
    if not isinstance(anchor, str) or not anchor:
        raise _ShapeError(
            f"'day_of' names the day's anchor (start, an event or a date), got {anchor!r}"
        )
    if "opens" in value or "closes" in value:
        raise _ShapeError(
            "'day_of: X' already opens and closes the window on X's day: "
            "write 'day_of' alone, or 'opens' and 'closes' without it"
        )
    rest = {key: item for key, item in value.items() if key != "day_of"}
    return {"opens": {"after": anchor}, "closes": {"after": anchor}, **rest}


def _rules_inside_the_deadline(
    data: dict[str, Any], file: str, source: SourceMap
) -> dict[str, Any]:
    """A deadline carries its rules as a window does (``deadline: {after: X, rules: [...]}``);
    ``deadline_rules`` beside it is the older spelling, still read."""
    deadline = data.get("deadline")
    if not isinstance(deadline, dict) or "rules" not in deadline:
        return data
    if "deadline_rules" in data:
        raise DefinitionError(
            [
                Problem(
                    file,
                    source.line_of("deadline_rules"),
                    "deadline_rules",
                    "the deadline's rules are written once: inside 'deadline' "
                    "(remove 'deadline_rules', the older spelling)",
                )
            ]
        )
    bound = {key: value for key, value in deadline.items() if key != "rules"}
    return {**data, "deadline": bound, "deadline_rules": deadline["rules"]}


def make_converter() -> cattrs.Converter:
    """The converter for definitions: strict scalars, no unknown keys, from/to renamed."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], _names)
    converter.register_structure_hook(Decimal, _money)
    # JSON has no decimal type: amounts go out as whole numbers or strings, never floats
    converter.register_unstructure_hook(
        Decimal, lambda d: int(d) if d == d.to_integral_value() else str(d)
    )
    converter.register_structure_hook_func(lambda t: t == tuple[int | str, ...], _choices)
    converter.register_structure_hook_func(lambda t: t == int | str, _choice)
    window = make_dict_structure_fn(Window, converter, _cattrs_forbid_extra_keys=True)
    converter.register_structure_hook(Window, lambda value, _: window(_on_the_day(value), Window))
    source, dest = override(rename="from"), override(rename="to")
    converter.register_structure_hook(
        Transition,
        make_dict_structure_fn(
            Transition, converter, _cattrs_forbid_extra_keys=True, source=source, dest=dest
        ),
    )
    converter.register_unstructure_hook(
        Transition, make_dict_unstructure_fn(Transition, converter, source=source, dest=dest)
    )
    return converter


CONVERTER = make_converter()

_KEY_IN_BRACKETS = re.compile(r"\['((?:[^'\\]|\\.)*)'\]")
_CATTRS_PATH = re.compile(r"^(?P<message>.*) @ \$(?P<path>.*)$")


def _shape_problems(exc: Exception, file: str, source: SourceMap) -> list[Problem]:
    problems = []
    for text in cattrs.transform_error(exc, path="$", format_exception=_shape_message):
        match = _CATTRS_PATH.match(text)
        if match is None:
            problems.append(Problem(file, source.line_of(""), "", text))
            continue
        # cattrs writes mapping keys as ['done']; the source map, as the user reads them
        path = _KEY_IN_BRACKETS.sub(r".\1", match["path"]).lstrip(".")
        message = match["message"]
        if message == "required field missing":
            field = path.rsplit(".", 1)[-1]
            message = f"required field '{field}' is missing"
        elif message.startswith("extra fields found"):
            message = message.replace("extra fields found", "unknown field(s)")
        problems.append(Problem(file, source.line_of(path), path, message))
    return problems


def structure(data: Any, file: str, source: SourceMap) -> ProgrammeType:
    """Structure parsed YAML into the model; raise :class:`DefinitionError` on bad shape."""
    if not isinstance(data, dict):
        raise DefinitionError(
            [Problem(file, 1, "", "a definition must be a mapping with id, states, transitions")]
        )
    data = _rules_inside_the_deadline(data, file, source)
    try:
        return CONVERTER.structure(data, ProgrammeType)
    except Exception as exc:  # cattrs raises ClassValidationError or plain errors
        raise DefinitionError(_shape_problems(exc, file, source)) from None


# --- meaning --------------------------------------------------------------------


def _suggest(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" (known: {', '.join(known)})" if known else ""


class _Checker:
    """Collects semantic problems, each tied to a path and so to a line."""

    def __init__(self, definition: ProgrammeType, file: str, source: SourceMap) -> None:
        self.d = definition
        self.file = file
        self.source = source
        self.problems: list[Problem] = []
        self.events = {t.event for t in definition.transitions}

    def add(self, path: str, message: str) -> None:
        for edge in (".opens.after", ".closes.after"):  # written as 'day_of: X': say so, once
            window = path.removesuffix(edge)
            if path.endswith(edge) and f"{window}.day_of" in self.source.lines:
                path = f"{window}.day_of"
        problem = Problem(self.file, self.source.line_of(path), path, message)
        if problem not in self.problems:
            self.problems.append(problem)

    def known(self, path: str, kind: str, name: str, known: Iterable[str]) -> bool:
        known = list(known)
        if name in known:
            return True
        self.add(path, f"unknown {kind} '{name}'{_suggest(name, known)}")
        return False

    def run(self) -> list[Problem]:
        d = self.d
        if not _ID_PATTERN.match(d.id):
            self.add("id", f"id '{d.id}' must be lowercase letters, digits and dashes")
        if d.version < 1:
            self.add("version", "version must be 1 or more")
        self.check_timezone("timezone", d.timezone)
        if d.country is not None:
            self.check_country("country", d.country)
        self.known("initial", "state", d.initial, d.states)
        if not d.terminal_states():
            self.add("states", "no state is terminal: mark the end state(s) with 'terminal: true'")
        for name, role in d.roles.items():
            path = join_path("roles", name)
            if role.min < 0:
                self.add(join_path(path, "min"), "min must be 0 or more")
            if role.max is not None and role.max < max(role.min, 1):
                self.add(join_path(path, "max"), f"max must be at least min ({role.min}) and 1")
            self.check_refs(join_path(path, "joined_by"), "role", role.joined_by, (*d.roles, SELF))
            self.check_refs(join_path(path, "join_during"), "state", role.join_during, d.states)
            if role.join_during and not role.joined_by:
                self.add(join_path(path, "join_during"), "join_during needs joined_by")
            if role.max_waivable and (role.max is None or not role.joined_by):
                self.add(
                    join_path(path, "max_waivable"),
                    "max_waivable lets one more participant join past max: give max and joined_by",
                )
        for i, role_name in enumerate(d.waivable_by):
            self.known(join_path("waivable_by", i), "role", role_name, d.roles)
        for i, role_name in enumerate(d.started_by):
            if self.known(join_path("started_by", i), "role", role_name, d.roles) and (
                d.roles[role_name].joins_later
            ):
                self.add(
                    join_path("started_by", i),
                    f"role '{role_name}' joins after the start, so it cannot start the programme",
                )
        self.check_names()
        for name, deliverable in d.deliverables.items():
            path = join_path("deliverables", name)
            self.check_refs(join_path(path, "owed_by"), "role", deliverable.owed_by, d.roles)
            if not deliverable.owed_by:
                self.add(join_path(path, "owed_by"), "say which roles owe this deliverable")
            self.check_refs(join_path(path, "during"), "state", deliverable.during, d.states)
            if deliverable.window is not None:
                self.check_window(join_path(path, "window"), deliverable.window)
            if deliverable.renewed_by is not None:
                self.known(
                    join_path(path, "renewed_by"), "event", deliverable.renewed_by, self.events
                )
            for part_name, part in deliverable.content.items():
                part_path = join_path(join_path(path, "content"), part_name)
                if not _NAME_PATTERN.match(part_name):
                    self.add(part_path, f"part name '{part_name}' must be an identifier")
                if part.one_of is not None and part.list_of is not None:
                    self.add(part_path, "a part is either one_of or list_of, not both")
                if part.list_of is not None and not part.list_of:
                    self.add(join_path(part_path, "list_of"), "list_of needs at least one field")
            alternatives = [n for n, part in deliverable.content.items() if part.and_or]
            if len(alternatives) == 1:
                self.add(
                    join_path(join_path(join_path(path, "content"), alternatives[0]), "and_or"),
                    "and_or marks alternatives: mark at least two parts, or none",
                )
        if d.budget is not None:
            self.check_budget()
        for name, date in d.dates.items():
            path = join_path("dates", name)
            self.check_refs(join_path(path, "set_by"), "role", date.set_by, d.roles)
            self.check_refs(join_path(path, "during"), "state", date.during, d.states)
            if date.renewed_by is not None:
                self.known(join_path(path, "renewed_by"), "event", date.renewed_by, self.events)
        if d.deadline is not None:
            self.check_bound("deadline", d.deadline)
        self.check_transitions()
        if not self.problems:
            self.check_graph()
        if not self.problems:
            self.check_anchors_happened()
        return self.problems

    def check_budget(self) -> None:
        d = self.d
        budget = d.budget
        assert budget is not None
        self.check_refs("budget.paid_by", "role", budget.paid_by, d.roles)
        if not budget.paid_by:
            self.add("budget.paid_by", "say which roles pay claims")
        self.check_refs("budget.claims_during", "state", budget.claims_during, d.states)
        for role_name, role_budget in budget.roles.items():
            path = join_path("budget.roles", role_name)
            self.known(path, "role", role_name, d.roles)
            if not role_budget.items:
                self.add(join_path(path, "items"), "a role's budget needs at least one item")
            for item_name, item in role_budget.items.items():
                item_path = join_path(join_path(path, "items"), item_name)
                limited = (item.cap, item.per_day, item.per_night) != (None, None, None)
                if not limited and not item.at_cost:
                    self.add(
                        item_path,
                        "an item needs a cap, per_day or per_night (or at_cost: true where the "
                        "document gives no limit)",
                    )
                if limited and item.at_cost:
                    self.add(
                        join_path(item_path, "at_cost"),
                        "at_cost means no limit: drop it, or drop the cap and rates",
                    )
                if item.per_day is not None and item.per_night is not None:
                    self.add(item_path, "an item is paid per_day or per_night, not both")
                if item.flat and item.per_day is None and item.per_night is None:
                    self.add(
                        join_path(item_path, "flat"),
                        "a flat rate is paid per_day or per_night: give one",
                    )
                for key, rate in (("max_days", item.per_day), ("max_nights", item.per_night)):
                    most = getattr(item, key)
                    if most is None:
                        continue
                    unit = key.removeprefix("max_")
                    if rate is None:
                        self.add(
                            join_path(item_path, key),
                            f"{key} bounds an item paid per_{unit[:-1]}: give per_{unit[:-1]}",
                        )
                    if most < 1:
                        self.add(join_path(item_path, key), f"{key} must be 1 or more")
        if budget.payment is not None:
            self.check_window("budget.payment", budget.payment, anchors={INVOICE_ANCHOR})

    def check_timezone(self, path: str, name: str) -> None:
        try:
            pendulum.timezone(name)
        except Exception:
            self.add(
                path, f"unknown time zone '{name}' (expected an IANA name like Europe/Brussels)"
            )

    def check_country(self, path: str, code: str) -> None:
        if code not in known_countries():
            self.add(
                path,
                f"unknown country '{code}' for public holidays{_suggest(code, [])}"
                " (expected an ISO 3166 code such as BE, DE, ES)",
            )

    def check_refs(
        self, path: str, kind: str, names: tuple[str, ...], known: Iterable[str]
    ) -> None:
        known = list(known)
        for i, name in enumerate(names):
            self.known(join_path(path, i), kind, name, known)

    def check_names(self) -> None:
        for name in self.events:
            if not _NAME_PATTERN.match(name):
                self.add("transitions", f"event name '{name}' must be a Python-style identifier")
        for name in self.d.dates:
            if name in self.events:
                self.add(
                    join_path("dates", name),
                    f"date '{name}' has the name of an event: windows could not tell them apart",
                )
            if name == START_ANCHOR:
                self.add(join_path("dates", name), "'start' is reserved for the programme start")
        if START_ANCHOR in self.events:
            self.add("transitions", "'start' is reserved for the programme start; rename the event")

    def check_window(self, path: str, window: Window, anchors: set[str] | None = None) -> None:
        if window.opens is None and window.closes is None:
            self.add(path, "a window needs 'opens', 'closes' or both")
        if window.opens is not None:
            self.check_bound(join_path(path, "opens"), window.opens, anchors)
        if window.closes is not None:
            self.check_bound(join_path(path, "closes"), window.closes, anchors)

    def check_bound(self, path: str, bound: Bound, anchors: set[str] | None = None) -> None:
        if (bound.after is None) == (bound.before is None):
            self.add(path, "a bound needs exactly one of 'after' or 'before' (an anchor)")
            return
        if anchors is None:
            anchors = {START_ANCHOR, *self.events, *self.d.dates}
        key = "after" if bound.after is not None else "before"
        self.known(join_path(path, key), "anchor", bound.anchor, anchors)
        units = {u: getattr(bound, u) for u in (*_CALENDAR_UNITS, "working_days")}
        for unit, amount in units.items():
            if amount < 0:
                self.add(
                    join_path(path, unit), f"{unit} must be 0 or more; use 'before' to go back"
                )
            elif amount > BOUND_LIMITS[unit]:
                self.add(
                    join_path(path, unit),
                    f"{unit} must be at most {BOUND_LIMITS[unit]:,} (100 years), not {amount:,}",
                )
        if bound.working_days and any(units[u] for u in _CALENDAR_UNITS):
            self.add(path, "working_days cannot be mixed with days, weeks, months or years")
        if bound.working_days:
            country = bound.country or self.d.country
            if country is None:
                self.add(
                    path, "working_days need a country: set 'country' here or in the definition"
                )
            elif bound.country is not None:
                self.check_country(join_path(path, "country"), bound.country)
        elif bound.country is not None or bound.subdivision is not None:
            self.add(path, "'country' only applies to working_days")

    def check_transitions(self) -> None:
        d = self.d
        seen: dict[tuple[str, str], int] = {}
        for i, t in enumerate(d.transitions):
            path = join_path("transitions", i)
            for j, src in enumerate(t.source):
                if src == ANY_STATE:
                    continue
                if self.known(join_path(path, f"from[{j}]"), "state", src, d.states) and (
                    d.states[src].terminal
                ):
                    self.add(
                        join_path(path, f"from[{j}]"),
                        f"state '{src}' is terminal: no step may leave it",
                    )
            self.known(join_path(path, "to"), "state", t.dest, d.states)
            if not t.by:
                self.add(join_path(path, "by"), "say which roles may fire this step")
            self.check_refs(join_path(path, "by"), "role", t.by, d.roles)
            self.check_refs(join_path(path, "requires"), "deliverable", t.requires, d.deliverables)
            for j, conditional in enumerate(t.requires_when):
                self.check_conditional(join_path(join_path(path, "requires_when"), j), conditional)
            if t.window is not None:
                self.check_window(join_path(path, "window"), t.window)
            if t.advisory is not None:
                self.check_window(join_path(path, "advisory"), t.advisory)
            for event, least in t.min_times.items():
                where = join_path(join_path(path, "min_times"), event)
                self.known(where, "event", event, self.events)
                if least < 1:
                    self.add(where, f"min_times counts from 1, got {least}")
            for src in (
                d.sources_of(t) if all(s in d.states or s == ANY_STATE for s in t.source) else ()
            ):
                if (src, t.event) in seen:
                    self.add(
                        path,
                        f"event '{t.event}' already leaves state '{src}' in "
                        f"transitions[{seen[src, t.event]}]: a step must be unambiguous",
                    )
                seen[src, t.event] = i

    def check_conditional(self, path: str, conditional: ConditionalRequirement) -> None:
        """A conditional requirement reads one part of a joint deliverable's content."""
        d = self.d
        self.known(
            join_path(path, "deliverable"), "deliverable", conditional.deliverable, d.deliverables
        )
        when = conditional.when
        where = join_path(path, "when")
        if not self.known(
            join_path(where, "deliverable"), "deliverable", when.deliverable, d.deliverables
        ):
            return
        read = d.deliverables[when.deliverable]
        if read.each:
            self.add(
                join_path(where, "deliverable"),
                f"deliverable '{when.deliverable}' is owed by each participant: a condition "
                "reads one joint submission (each: false)",
            )
        part = read.content.get(when.part)
        if part is None:
            parts = ", ".join(read.content) or "none"
            self.add(
                join_path(where, "part"),
                f"deliverable '{when.deliverable}' has no content part '{when.part}' "
                f"(its parts: {parts})",
            )
        elif part.one_of is None:
            self.add(
                join_path(where, "part"),
                f"part '{when.part}' of '{when.deliverable}' has no one_of list: a condition "
                "reads a part whose values are listed",
            )
        elif when.equals not in part.one_of or isinstance(when.equals, bool):
            listed = ", ".join(str(v) for v in part.one_of)
            self.add(
                join_path(where, "equals"),
                f"{when.equals!r} is not a value '{when.part}' can take (it allows {listed})",
            )

    def check_graph(self) -> None:
        d = self.d
        outgoing: dict[str, set[str]] = {name: set() for name in d.states}
        for t in d.transitions:
            for src in d.sources_of(t):
                outgoing[src].add(t.dest)
        reachable = _closure({d.initial}, outgoing)
        for name, state in d.states.items():
            path = join_path("states", name)
            if name not in reachable:
                self.add(
                    path, f"state '{name}' is unreachable from the initial state '{d.initial}'"
                )
            elif not state.terminal and not outgoing[name]:
                self.add(
                    path,
                    f"state '{name}' is not terminal but no transition leaves it "
                    "(a dead end): add a transition or mark it 'terminal: true'",
                )
        incoming: dict[str, set[str]] = {name: set() for name in d.states}
        for src, dests in outgoing.items():
            for dest in dests:
                incoming[dest].add(src)
        ends = _closure(set(d.terminal_states()), incoming)  # one walk back from the ends
        for name in sorted(reachable):
            if name not in ends and outgoing[name]:
                self.add(
                    join_path("states", name),
                    f"no terminal state can be reached from state '{name}' (a trap)",
                )

    def check_anchors_happened(self) -> None:
        """A window may only count from an event that has fired on every path to it."""
        asked: dict[str, list[tuple[str, str]]] = {}  # anchor -> (path, state) to check
        for i, t in enumerate(self.d.transitions):
            for key, window in (("window", t.window), ("advisory", t.advisory)):
                for bound_path, bound in _bounds(
                    join_path(join_path("transitions", i), key), window
                ):
                    for src in self.d.sources_of(t):
                        self._ask(asked, bound_path, bound, src)
        for name, deliverable in self.d.deliverables.items():
            path = join_path(join_path("deliverables", name), "window")
            states = deliverable.during or self.d.live_states()
            for bound_path, bound in _bounds(path, deliverable.window):
                for state in states:
                    self._ask(asked, bound_path, bound, state)
        for anchor, places in asked.items():
            maybe_not = reachable_without(self.d, anchor)  # one walk per anchor: linear memory
            reported: set[tuple[str, str]] = set()
            for path, state in places:
                if state in maybe_not and (path, state) not in reported:
                    reported.add((path, state))
                    self.add(
                        path,
                        f"anchor '{anchor}' may not have happened on every path to "
                        f"state '{state}': anchor on an earlier step, or restrict 'during'",
                    )

    def _ask(
        self, asked: dict[str, list[tuple[str, str]]], path: str, bound: Bound, state: str
    ) -> None:
        if bound.anchor in self.events:
            asked.setdefault(bound.anchor, []).append((path, state))


def _bounds(path: str, window: Window | None) -> list[tuple[str, Bound]]:
    if window is None:
        return []
    found = []
    if window.opens is not None:
        found.append((join_path(path, "opens"), window.opens))
    if window.closes is not None:
        found.append((join_path(path, "closes"), window.closes))
    return found


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def reachable_without(definition: ProgrammeType, event: str) -> set[str]:
    """The states some path from the initial state reaches without ``event`` firing.

    ``event`` has fired on every path into a state exactly when the state is not in this set
    (a state is entered by a step, so the step into it counts as having fired). One walk,
    memory linear in the definition (a table of every state's must-have-fired events grew
    with states times events: 400 MB for a chain of 4,000 states)."""
    edges: dict[str, set[str]] = {}
    for t in definition.transitions:
        if t.event != event:
            for src in definition.sources_of(t):
                edges.setdefault(src, set()).add(t.dest)
    return _closure({definition.initial}, edges)


# --- entry points ---------------------------------------------------------------


def parse_definition(text: str, file: str = "<string>") -> ProgrammeType:
    """Read a definition from YAML text; ``file`` names it in error messages."""
    data, source, yaml_problems = read_yaml(text)
    if yaml_problems:
        raise DefinitionError([Problem(file, p.line, "", p.message) for p in yaml_problems])
    definition = structure(data, file, source)
    problems = _Checker(definition, file, source).run()
    if problems:
        raise DefinitionError(problems)
    return definition


def read_definition_file(path: str | Path) -> ProgrammeType:
    """Read and check one definition file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError([Problem(str(path), 0, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise DefinitionError([Problem(str(path), 0, "", "not UTF-8 text")]) from None
    return parse_definition(text, path.name)
