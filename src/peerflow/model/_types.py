"""The definition model: a programme type as frozen, plain data.

These classes mirror the YAML one to one, so a definition file and the Python
value that loading produces read the same. Meaning (unknown names, unreachable
states, ...) is checked by :mod:`peerflow.model._loading`, not here: a value of these
classes is only known to be well *shaped*.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

START_ANCHOR = "start"
"""The anchor every window may use: the moment the programme started."""

ANY_STATE = "*"
"""In ``from:``, every non-terminal state (used for cancellations)."""

SELF = "self"
"""In a role's ``joined_by``: participants join themselves (nobody adds them)."""

INVOICE_ANCHOR = "invoice"
"""The anchor of a budget's payment window: the claim's invoice date."""


@attrs.frozen
class Bound:
    """One edge of a window: an anchor plus an offset.

    ``after: X`` counts forward from X, ``before: X`` backwards. X is ``start``,
    a transition's event (the last time it fired) or a scheduled date. Windows
    are whole days in the programme's time zone: a bound names a calendar day,
    a window opens at the start of its opening day and closes at the end of its
    closing day.
    """

    after: str | None = None
    before: str | None = None
    days: int = 0
    weeks: int = 0
    months: int = 0
    years: int = 0
    working_days: int = 0
    country: str | None = None
    subdivision: str | None = None

    @property
    def anchor(self) -> str:
        """The name the bound counts from, whichever direction."""
        return self.after if self.after is not None else (self.before or "")

    @property
    def sign(self) -> int:
        return -1 if self.before is not None else 1

    def describe(self) -> str:
        """A person's reading of the bound: ``2 weeks after hold_orientation``."""
        parts = []
        for unit in ("years", "months", "weeks", "days", "working_days"):
            amount = getattr(self, unit)
            if amount:
                name = unit.replace("_", " ")
                parts.append(f"{amount} {name[:-1] if amount == 1 else name}")
        amount_text = " ".join(parts)
        where = "after" if self.after is not None else "before"
        if not amount_text:
            return f"on {self.anchor}" if where == "after" else f"by {self.anchor}"
        country = f" ({self.country})" if self.working_days and self.country else ""
        return f"{amount_text}{country} {where} {self.anchor}"


@attrs.frozen
class Window:
    """When a step may happen. A missing bound means unbounded on that side."""

    opens: Bound | None = None
    closes: Bound | None = None
    rules: tuple[str, ...] = ()


@attrs.frozen
class Role:
    """A part people play; ``min``/``max`` are how many participants hold it."""

    title: str = ""
    min: int = 1
    max: int | None = 1
    joined_by: tuple[str, ...] = ()
    join_during: tuple[str, ...] = ()
    description: str = ""
    rules: tuple[str, ...] = ()
    min_waivable: bool = True
    """Whether a facilitator may waive ``too_few_participants`` for this role. False where the
    programme cannot run without them (no tutoring without a tutor)."""
    max_waivable: bool = False
    """Whether a facilitator may waive ``participant_limit`` for one more join: where the
    document's range is a recommendation ("6-8 is optimal"), both bounds are treated alike."""

    @property
    def joins_later(self) -> bool:
        """Participants of this role join after the start (``min`` is checked on leaving)."""
        return bool(self.joined_by)


@attrs.frozen
class Field:
    """One field of an entry in a list part (a measure's rating, its time frame)."""

    title: str = ""
    one_of: tuple[int | str, ...] | None = None


@attrs.frozen
class Part:
    """A part a structured deliverable must carry, checked when it is submitted.

    A plain part needs non-empty text (or any non-empty value); ``one_of``
    restricts it to listed values; ``list_of`` makes it a non-empty list of
    entries, each carrying every listed field; ``and_or`` makes it one of a set of
    alternatives, at least one of which is needed.
    """

    title: str = ""
    one_of: tuple[int | str, ...] | None = None
    list_of: dict[str, Field] | None = None
    and_or: bool = False
    """One of the deliverable's alternatives: at least one part marked ``and_or`` must be
    given (a document's "an assessment, improvements and/or sources"); unmarked parts are
    each required."""


@attrs.frozen
class Deliverable:
    """A document or record a step needs.

    With ``each: true`` every participant of the owing roles owes its own copy
    (every mentee signs the agreement); otherwise one submission by any of them
    settles it (the joint report).
    """

    title: str
    owed_by: tuple[str, ...]
    each: bool = False
    during: tuple[str, ...] = ()
    window: Window | None = None
    content: dict[str, Part] = attrs.field(factory=dict)
    renewed_by: str | None = None
    """An event after which the deliverable is owed anew (materials studied before each
    workshop, minutes of each): its submissions are cleared when the event fires."""
    description: str = ""
    rules: tuple[str, ...] = ()


@attrs.frozen
class ScheduledDate:
    """A date a participant sets (the orientation date, the visit date)."""

    title: str
    set_by: tuple[str, ...]
    during: tuple[str, ...] = ()
    renewed_by: str | None = None
    """An event after which the date is unset again (the date of the next workshop)."""
    description: str = ""
    rules: tuple[str, ...] = ()


@attrs.frozen
class State:
    """A stage of the programme; a terminal state has no way out."""

    title: str = ""
    terminal: bool = False
    description: str = ""
    rules: tuple[str, ...] = ()


@attrs.frozen
class Condition:
    """What a joint deliverable's latest submission says: its ``part`` equals ``equals``.

    A condition reads submitted content (the minutes say changes were discussed), so a
    step can need something only in the case the document names.
    """

    deliverable: str
    part: str
    equals: int | str

    def describe(self) -> str:
        return f"{self.deliverable}.{self.part} is {self.equals}"


@attrs.frozen
class ConditionalRequirement:
    """A deliverable a step requires only while ``when`` holds."""

    deliverable: str
    when: Condition


@attrs.frozen
class Transition:
    """A step from one state to another, fired by an event.

    ``source`` and ``dest`` are spelt ``from`` and ``to`` in YAML.
    """

    event: str
    source: tuple[str, ...]
    dest: str
    by: tuple[str, ...]
    requires: tuple[str, ...] = ()
    requires_when: tuple[ConditionalRequirement, ...] = ()
    window: Window | None = None
    advisory: Window | None = None
    """An indicative window ("Month 2-3"): shown in next steps and deadlines, never blocking."""
    min_times: dict[str, int] = attrs.field(factory=dict)
    """Events that must have fired at least so many times ("at least two workshops")."""
    title: str = ""
    description: str = ""
    deadline_applies: bool = True
    rules: tuple[str, ...] = ()


@attrs.frozen
class CostItem:
    """What one participant may be reimbursed for one kind of cost.

    ``cap`` limits the total over all claims; ``per_day`` and ``per_night``
    limit each claim to the rate times the days or nights it covers (a daily
    fee, an allowance), and ``max_days``/``max_nights`` the days or nights over all
    claims. Amounts are :class:`~decimal.Decimal`.
    """

    title: str = ""
    cap: Decimal | None = None
    per_day: Decimal | None = None
    per_night: Decimal | None = None
    flat: bool = False
    """A daily flat rate (an allowance): paid at the rate for each day or night without
    receipts; a claim may leave the amount out (it is then the rate times the days)."""
    max_days: int | None = None
    """The most days of ``per_day`` one participant may claim over all claims (the
    activity's days, with its travel days)."""
    max_nights: int | None = None
    """The most nights of ``per_night`` one participant may claim over all claims."""
    at_cost: bool = False
    """Reimbursed at real cost with no limit: only where the document gives none (the
    PROSPECT facilitator's travel and hotel)."""
    rules: tuple[str, ...] = ()


@attrs.frozen
class RoleBudget:
    """The reimbursement each participant of a role may claim: a total cap and items."""

    items: dict[str, CostItem]
    cap: Decimal | None = None
    title: str = ""
    rules: tuple[str, ...] = ()


@attrs.frozen
class Budget:
    """Who may claim what, who pays, and when (``payment`` counts from ``invoice``)."""

    roles: dict[str, RoleBudget]
    paid_by: tuple[str, ...]
    currency: str = "EUR"
    receipts_required: bool = True
    bank_details_required: bool = False
    """Every claim carries ``bank_details`` (the programme pays by bank transfer)."""
    claims_during: tuple[str, ...] = ()
    payment: Window | None = None
    description: str = ""
    rules: tuple[str, ...] = ()


@attrs.frozen
class ProgrammeType:
    """A whole programme type, as written in one definition file."""

    id: str
    version: int
    title: str
    initial: str
    states: dict[str, State]
    roles: dict[str, Role]
    transitions: tuple[Transition, ...]
    deliverables: dict[str, Deliverable] = attrs.field(factory=dict)
    dates: dict[str, ScheduledDate] = attrs.field(factory=dict)
    timezone: str = "UTC"
    country: str | None = None
    deadline: Bound | None = None
    deadline_rules: tuple[str, ...] = ()
    waivable_by: tuple[str, ...] = ()
    started_by: tuple[str, ...] = ()
    budget: Budget | None = None
    source: str = ""
    description: str = ""

    def starters(self) -> tuple[str, ...]:
        """The roles that may start a programme: ``started_by``, else ``waivable_by``, else any.

        The starting actor must also be listed among the start's participants in that role.
        """
        return self.started_by or self.waivable_by or tuple(self.roles)

    def terminal_states(self) -> tuple[str, ...]:
        return tuple(name for name, state in self.states.items() if state.terminal)

    def completion_states(self) -> frozenset[str]:
        """Terminal states that mean the programme was carried through, not abandoned.

        A terminal state reached only by steps that need nothing (cancel, reject) is an
        escape; one that some step reaches with a deliverable or a window is a completion.
        """
        return frozenset(
            tr.dest
            for tr in self.transitions
            if self.states[tr.dest].terminal and (tr.requires or tr.window is not None)
        )

    def live_states(self) -> tuple[str, ...]:
        """The non-terminal states: the default of every ``during``."""
        return tuple(name for name, state in self.states.items() if not state.terminal)

    def sources_of(self, transition: Transition) -> tuple[str, ...]:
        """The concrete source states, with ``*`` expanded."""
        if ANY_STATE in transition.source:
            return self.live_states()
        return transition.source
