"""Check every path of a definition: a state-space explorer and model checks over it.

A node is the engine's own state plus the clock: the programme state (current step,
deliverables in, dates scheduled, when each step fired) and the moment ``at``. Edges are the
engine's events, applied with the engine itself (never a re-implementation), plus "the clock
passes" edges that move ``at`` to the next window boundary (a window opening or closing, the
overall deadline), so time is enumerated like any other event. Optionally, a facilitator's
waiver is an edge too.

Choices that keep the space finite are stated: one cast (each role filled to its minimum, at
least one, at most two), every event at the current moment, and each scheduled date set a fixed
number of days ahead (``schedule_days``). Exploration is breadth-first and stops at
``max_nodes``; the report says when it did.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from peerflow._errors import EventError
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._content import complete_content
from peerflow.engine._participation import join_moves
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import FIRE, SCHEDULE, SUBMIT, Step
from peerflow.events._envelope import Actor, Event
from peerflow.model._calendar import closing_instant, opening_instant

_KEY = tuple[object, ...]


@attrs.frozen
class Edge:
    """One move: an engine event (``kind`` fire/submit/schedule/waive) or the clock passing."""

    source: int
    target: int
    kind: str
    label: str
    actor: Actor | None = None
    step: str = ""
    waiver: bool = False
    event: Event | None = None
    """The engine event this edge applies (None for the clock)."""


@attrs.define
class Exploration:
    """The explored space: nodes (state, moment), edges, and whether a bound cut it."""

    definition: CompiledDefinition
    states: list[ProgrammeState]
    moments: list[datetime]
    edges: list[Edge]
    parent: list[int | None]
    parent_edge: list[Edge | None]
    complete: bool
    max_nodes: int
    unsafe: list[tuple[int, str]] = attrs.field(factory=list)
    contradictions: list[tuple[int, str]] = attrs.field(factory=list)
    submitted_by: set[tuple[str, str]] = attrs.field(factory=set)
    cast: tuple[Actor, ...] = ()
    expanded: set[int] = attrs.field(factory=set)
    cut: set[int] = attrs.field(factory=set)
    horizon: datetime | None = None
    start_event: Event | None = None
    timed_out: bool = False
    """The time budget ran out before every node was expanded."""

    def edges_to(self, node: int) -> list[Edge]:
        """The tree edges from the start to ``node``."""
        edges: list[Edge] = []
        current: int | None = node
        while current is not None and (edge := self.parent_edge[current]) is not None:
            edges.append(edge)
            current = self.parent[current]
        return list(reversed(edges))

    def history_to(self, node: int) -> list[Event]:
        """The events that lead from the start to ``node``: a history the engine replays."""
        assert self.start_event is not None, "an Exploration comes from explore()"
        return [self.start_event] + [e.event for e in self.edges_to(node) if e.event is not None]

    def path_to(self, node: int) -> list[str]:
        """The moves from the start to ``node``, in words."""
        return [edge.label for edge in self.edges_to(node)]


@attrs.frozen
class Check:
    """One model check: passed or not, what it found, and a counterexample path if it failed."""

    name: str
    passed: bool
    detail: str
    counterexample: tuple[str, ...] = ()


@attrs.frozen
class Report:
    """Counts of the explored space and the result of every check."""

    definition: str
    nodes: int
    edges: int
    paths_to_completion: int | None
    complete: bool
    bound: str
    waiver_nodes: int
    waivers_complete: bool
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "definition": self.definition,
            "passed": self.passed,
            "nodes": self.nodes,
            "edges": self.edges,
            "paths_to_completion": self.paths_to_completion,
            "complete": self.complete,
            "bound": self.bound,
            "waiver_nodes": self.waiver_nodes,
            "waivers_complete": self.waivers_complete,
            "checks": [
                {
                    "name": c.name,
                    "passed": c.passed,
                    "detail": c.detail,
                    "counterexample": list(c.counterexample),
                }
                for c in self.checks
            ],
        }

    def to_text(self) -> str:
        paths = (
            "endless paths to completion (a cycle: a step can undo what another did)"
            if self.paths_to_completion is None
            else f"{self.paths_to_completion:,} paths to completion"
        )
        lines = [
            f"{self.definition}: {self.nodes:,} nodes, {self.edges:,} edges, {paths}"
            + ("" if self.complete else f" (cut by a bound: {self.bound})"),
            f"  with lateness waivers: {self.waiver_nodes:,} nodes"
            + ("" if self.waivers_complete else " (cut by a bound)"),
        ]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FAILED'}] {c.name}: {c.detail}")
            if c.counterexample:
                lines.append("      counterexample:")
                lines.extend(f"        {i}. {move}" for i, move in enumerate(c.counterexample, 1))
        return "\n".join(lines)


DEFAULT_MAX_SECONDS = 20.0
"""How long ``check`` explores by default, waivers included."""


def smallest_cast(definition: CompiledDefinition) -> tuple[Actor, ...]:
    """Each role at its minimum: roles with ``min: 0`` empty (but one starter, so a programme
    can start at all). Deadlocks that only an empty optional role causes show here."""
    t = definition.type
    starter_role = next(
        (r for r in t.starters() if not t.roles[r].joins_later), next(iter(t.roles))
    )
    actors: list[Actor] = []
    for name, role in t.roles.items():
        count = max(role.min, 1 if name == starter_role else 0)
        actors.extend(Actor(name, f"{name}-{i + 1}") for i in range(count))
    return tuple(actors)


def _cast_text(cast: tuple[Actor, ...], definition: CompiledDefinition) -> str:
    empty = [r for r in definition.type.roles if not any(a.role == r for a in cast)]
    held = ", ".join(f"{a.id} ({a.role})" for a in cast)
    return f"cast: {held}" + (f"; nobody as {', '.join(empty)}" if empty else "")


def default_cast(definition: CompiledDefinition) -> tuple[Actor, ...]:
    """Each role filled to its minimum (at least one, at most two unless the minimum is more)."""
    actors: list[Actor] = []
    for name, role in definition.type.roles.items():
        count = max(role.min, 1)
        if role.max is not None:
            count = min(count, role.max)
        actors.extend(Actor(name, f"{name}-{i + 1}") for i in range(count))
    return tuple(actors)


def split_cast(
    definition: CompiledDefinition, cast: tuple[Actor, ...]
) -> tuple[Actor, tuple[Actor, ...], tuple[Actor, ...]]:
    """Who starts a programme with ``cast``, whom its start lists, and who joins later.

    Roles whose participants join later (``joined_by``) are never listed at the start here:
    they join with a join event, as the definition says.
    """
    t = definition.type
    listed = tuple(a for a in cast if not t.roles[a.role].joins_later)
    later = tuple(a for a in cast if t.roles[a.role].joins_later)
    starters = t.starters()
    starter = next((a for a in listed if a.role in starters), None)
    if starter is None:
        raise ValueError(
            f"no participant of the cast may start '{t.id}' (roles that may: {', '.join(starters)})"
        )
    return starter, listed, later


def _key(st: ProgrammeState, at: datetime) -> _KEY:
    waivers = tuple(
        sorted((w.step_kind, w.step, w.blocker, w.participant or "") for w in st.waivers)
    )
    # The conditions' facts and the counts of repeated events decide later steps too.
    return (
        st.state,
        st.submitted,
        st.marks,
        st.roles,
        st.facts,
        st.counts,
        waivers,
        at,
    )


def _describe(at: datetime, actor: Actor, kind: str, name: str, extra: str = "") -> str:
    verb = {
        FIRE: "fires",
        SUBMIT: "submits",
        SCHEDULE: "schedules",
        "waive": "waives",
        "join": "joins",
    }[kind]
    return f"{at:%Y-%m-%d %H:%M} {actor.id} ({actor.role}) {verb} {name}{extra}"


class _Explorer:
    def __init__(
        self,
        definition: CompiledDefinition,
        max_nodes: int,
        schedule_days: int,
        waivers: bool,
        start: datetime | None,
        horizon_days: int,
        max_seconds: float | None = None,
        cast: tuple[Actor, ...] | None = None,
    ) -> None:
        self.d = definition
        self.max_seconds = max_seconds
        self.max_nodes = max_nodes
        self.schedule_days = schedule_days
        self.waivers = waivers
        t = definition.type
        self.start_at = start or datetime(2027, 1, 11, 9, tzinfo=ZoneInfo(t.timezone))
        self.cast = default_cast(definition) if cast is None else cast
        self.starter, self.listed, self.later = split_cast(definition, self.cast)
        self.waiver_actor = next((a for a in self.cast if a.role in t.waivable_by), None)
        self.horizon = self.start_at + timedelta(days=horizon_days)

    def run(self) -> Exploration:
        first = Event(
            "check",
            0,
            "check-0",
            self.start_at,
            self.starter,
            "start",
            {
                "definition": self.d.id,
                "version": self.d.version,
                "participants": [{"id": a.id, "role": a.role} for a in self.listed],
            },
        )
        root = self.d.start(first)
        ex = Exploration(self.d, [root], [self.start_at], [], [None], [None], True, self.max_nodes)
        ex.cast = self.cast
        ex.horizon = self.horizon
        ex.start_event = first
        index = {_key(root, self.start_at): 0}
        queue = deque([0])
        # A time budget of the tool's own, not of the programme: the engine still reads no clock.
        stop_at = None if self.max_seconds is None else time.monotonic() + self.max_seconds
        while queue:
            if stop_at is not None and time.monotonic() > stop_at:
                ex.complete = False
                ex.timed_out = True
                ex.cut.update(queue)
                break
            node = queue.popleft()
            ex.expanded.add(node)
            if ex.states[node].terminal:
                continue
            for edge_kind, label, actor, step, event, new_st, new_at in self._moves(ex, node):
                waiver = edge_kind == "waive"
                key = _key(new_st, new_at)
                target = index.get(key)
                if target is None:
                    if len(ex.states) >= self.max_nodes:
                        ex.complete = False
                        ex.cut.add(node)
                        continue
                    target = index[key] = len(ex.states)
                    ex.states.append(new_st)
                    ex.moments.append(new_at)
                    ex.parent.append(node)
                    edge = Edge(node, target, edge_kind, label, actor, step, waiver, event)
                    ex.parent_edge.append(edge)
                    ex.edges.append(edge)
                    queue.append(target)
                else:  # self-loops are kept: a repeatable step is still a step taken
                    ex.edges.append(
                        Edge(node, target, edge_kind, label, actor, step, waiver, event)
                    )
        return ex

    def _moves(
        self, ex: Exploration, node: int
    ) -> Iterator[tuple[str, str, Actor | None, str, Event | None, ProgrammeState, datetime]]:
        st, at = ex.states[node], ex.moments[node]
        boundaries: set[datetime] = set()
        overview = self.d.next_steps(st, at)
        deadline = self.d.deadline_at(st)
        for step in overview:
            for moment in (step.opens_at, step.closes_at):
                if moment is not None and moment > at:
                    boundaries.add(moment)
            # A window cut by the overall deadline is a late schedule, not a contradiction.
            if (
                step.opens_at is not None
                and step.closes_at is not None
                and step.closes_at != deadline
                and step.closes_at <= step.opens_at
            ):
                ex.contradictions.append(
                    (
                        node,
                        f"{step.kind} {step.name} closes ({step.closes_at:%Y-%m-%d %H:%M})"
                        f" before it opens ({step.opens_at:%Y-%m-%d %H:%M})",
                    )
                )
        clock_passed = st.last_at < at  # the state has waited since its last event
        tried: set[tuple[str, str, str]] = set()
        for actor, newcomer in join_moves(self.d, st, self.later):
            payload = {"participant": newcomer.id, "role": newcomer.role}
            event = Event("check", st.next_seq, f"check-{st.next_seq}", at, actor, "join", payload)
            try:
                new_st = self.d.apply(st, event)
            except EventError as exc:
                ex.unsafe.append((node, f"join {newcomer.role} offered but refused: {exc}"))
                continue
            label = _describe(at, actor, "join", f"{newcomer.id} as {newcomer.role}")
            yield "join", label, actor, f"join {newcomer.role}", event, new_st, at
        for actor in self.cast:
            if st.index_of(actor.id) is None:
                continue  # not joined (yet)
            for step in self.d.next_steps(st, at, actor):
                if not step.allowed:
                    continue
                # Participants of one role are interchangeable: the first one able acts.
                if step.kind == SUBMIT and actor.id not in step.owed_by and step.owed_by:
                    continue
                if (step.kind, step.name, actor.role) in tried:
                    continue
                tried.add((step.kind, step.name, actor.role))
                # Dates are set promptly: not after the clock has passed in this state.
                if step.kind == SCHEDULE and clock_passed:
                    continue
                self._check_safety(ex, node, st, at, actor, step)
                for event, said in self._events(st, at, actor, step):
                    try:
                        new_st = self.d.apply(st, event)
                    except EventError as exc:
                        ex.unsafe.append(
                            (node, f"{step.kind} {step.name} listed as allowed but refused: {exc}")
                        )
                        continue
                    if step.kind == SUBMIT:
                        ex.submitted_by.add((step.name, actor.id))
                    extra = f" for {event.payload['value']}" if step.kind == SCHEDULE else said
                    label = _describe(at, actor, step.kind, step.name, extra)
                    yield step.kind, label, actor, step.name, event, new_st, at
        if self.waivers and self.waiver_actor is not None:
            yield from self._waivers(st, at, overview)
        if boundaries:
            nxt = min(boundaries)
            if nxt > self.horizon:
                ex.complete = False
                ex.cut.add(node)
                return
            yield "clock", f"the clock passes to {nxt:%Y-%m-%d %H:%M}", None, "", None, st, nxt

    def _waivers(
        self, st: ProgrammeState, at: datetime, overview: list[Step]
    ) -> Iterator[tuple[str, str, Actor | None, str, Event | None, ProgrammeState, datetime]]:
        actor = self.waiver_actor
        assert actor is not None
        for step in overview:
            kinds = sorted({b.kind for b in step.blockers})
            # Lateness waivers only: the rest stays as the definition says.
            if kinds != ["window_closed"]:
                continue
            event = Event(
                "check",
                st.next_seq,
                f"check-{st.next_seq}",
                at,
                actor,
                "waive",
                {
                    "step": {"kind": step.kind, "name": step.name},
                    "blockers": kinds,
                    "reason": "explored",
                },
            )
            try:
                new_st = self.d.apply(st, event)
            except EventError:
                continue
            label = _describe(at, actor, "waive", f"{', '.join(kinds)} on {step.kind} {step.name}")
            yield "waive", label, actor, step.name, event, new_st, at

    def _events(
        self, st: ProgrammeState, at: datetime, actor: Actor, step: Step
    ) -> list[tuple[Event, str]]:
        """The events that take ``step``, with what sets them apart: one, except a submission
        a condition reads, which is tried with each value of the parts it reads (the minutes
        saying changes were discussed, and not)."""
        payload: dict[str, object]
        if step.kind == FIRE:
            payload = {"event": step.name}
        elif step.kind == SUBMIT:
            payload = {"deliverable": step.name}
            content = complete_content(self.d, step.name)
            if content is not None:
                payload["content"] = content
                variants = []
                parts = self.d.type.deliverables[step.name].content
                for read in dict.fromkeys(
                    c.part for c in self.d.conditions if c.deliverable == step.name
                ):
                    for value in parts[read].one_of or ():
                        said = {**content, read: value}
                        variants.append(
                            (
                                self._event(st, at, actor, step.kind, {**payload, "content": said}),
                                f" ({read}: {value})",
                            )
                        )
                if variants:
                    return variants
        else:
            day = at.astimezone(ZoneInfo(st.timezone)).date() + timedelta(days=self.schedule_days)
            payload = {"date": step.name, "value": day.isoformat()}
        return [(self._event(st, at, actor, step.kind, payload), "")]

    @staticmethod
    def _event(
        st: ProgrammeState, at: datetime, actor: Actor, kind: str, payload: dict[str, object]
    ) -> Event:
        return Event("check", st.next_seq, f"check-{st.next_seq}", at, actor, kind, payload)

    def _check_safety(
        self, ex: Exploration, node: int, st: ProgrammeState, at: datetime, actor: Actor, step: Step
    ) -> None:
        """Read the definition directly: an allowed step has its role, deliverables and window."""
        t = self.d.type
        if step.kind == FIRE:
            transition = next(
                tr for tr in t.transitions if tr.event == step.name and st.state in t.sources_of(tr)
            )
            roles, requires = transition.by, transition.requires
            # and what is required while the content it reads says so
            requires += tuple(
                c.deliverable
                for c in transition.requires_when
                if st.facts >> self.d.conditions.index(c.when) & 1
            )
        elif step.kind == SUBMIT:
            roles, requires = t.deliverables[step.name].owed_by, ()
        else:
            roles, requires = t.dates[step.name].set_by, ()
        if actor.role not in roles:
            ex.unsafe.append((node, f"{step.kind} {step.name} allowed for role {actor.role}"))
        for name in requires:
            deliverable = t.deliverables[name]
            owing = st.holders(deliverable.owed_by)
            done = [pid for pid in owing if st.has_submitted(name, pid)]
            complete = len(done) == len(owing) if deliverable.each else bool(done)
            waived = any(
                w.step == step.name and w.blocker == "missing_deliverable" for w in st.waivers
            )
            if not complete and not waived:
                ex.unsafe.append((node, f"{step.name} allowed without deliverable {name}"))
        closed = step.closes_at is not None and at >= step.closes_at
        waived = any(w.step == step.name and w.blocker == "window_closed" for w in st.waivers)
        if closed and not waived:
            ex.unsafe.append((node, f"{step.kind} {step.name} allowed after its window closed"))


def explore(
    definition: CompiledDefinition,
    *,
    max_nodes: int = 50_000,
    schedule_days: int = 35,
    waivers: bool = False,
    start: datetime | None = None,
    horizon_days: int = 3 * 366,
    max_seconds: float | None = None,
    cast: tuple[Actor, ...] | None = None,
) -> Exploration:
    """Enumerate the reachable (state, moment) nodes of ``definition`` breadth-first.

    The clock stops at ``horizon_days`` after the start: a programme that repeats a step
    without end (workshops) would otherwise have no end to explore. ``max_seconds`` bounds
    the time spent; the exploration then says it was cut (``timed_out``).
    """
    return _Explorer(
        definition, max_nodes, schedule_days, waivers, start, horizon_days, max_seconds, cast
    ).run()


def _escape_states(definition: CompiledDefinition) -> frozenset[str]:
    """Terminal states reached only by steps that need nothing (cancel, reject)."""
    t = definition.type
    return frozenset(t.terminal_states()) - t.completion_states()


def _can_reach(ex: Exploration, goal: set[int], with_waivers: bool = True) -> set[int]:
    backwards: dict[int, list[int]] = {}
    for e in ex.edges:
        if with_waivers or not e.waiver:
            backwards.setdefault(e.target, []).append(e.source)
    seen = set(goal)
    queue = deque(goal)
    while queue:
        for source in backwards.get(queue.popleft(), ()):
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return seen


def _count_paths(ex: Exploration, goal: set[int]) -> int | None:
    """Distinct paths from the start to ``goal`` nodes (None if the space has a cycle)."""
    forward: dict[int, list[int]] = {}
    for e in ex.edges:
        if not e.waiver and e.source != e.target:
            forward.setdefault(e.source, []).append(e.target)
    order: list[int] = []
    state = dict.fromkeys(range(len(ex.states)), 0)  # 0 new, 1 on stack, 2 done
    stack: list[tuple[int, Iterator[int]]] = [(0, iter(forward.get(0, ())))]
    state[0] = 1
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            state[node] = 2
            order.append(node)
        elif state[child] == 1:
            return None
        elif state[child] == 0:
            state[child] = 1
            stack.append((child, iter(forward.get(child, ()))))
    paths: dict[int, int] = {}
    for node in order:  # children before parents
        paths[node] = (1 if node in goal else 0) + sum(paths[c] for c in forward.get(node, ()))
    return paths.get(0, 0)


def check(
    definition: CompiledDefinition,
    *,
    max_nodes: int = 50_000,
    schedule_days: int = 35,
    start: datetime | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> Report:
    """Explore ``definition`` (without and with waivers) and run every model check.

    ``max_nodes`` and ``max_seconds`` bound the exploration (a definition with many
    independent deliverables has more orderings than any budget); the report says which
    bound cut it, and the reachability checks then speak only of the part explored.
    """
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be 1 or more, got {max_nodes!r}")
    if (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, int | float)
        or not (max_seconds > 0)
    ):
        raise ValueError(f"max_seconds must be more than 0, got {max_seconds!r}")
    plain = explore(
        definition,
        max_nodes=max_nodes,
        schedule_days=schedule_days,
        start=start,
        max_seconds=max_seconds * 0.8,
    )
    # Waivers multiply the space; their exploration gets a fifth of each budget and says if cut.
    waived = explore(
        definition,
        max_nodes=max(1, max_nodes // 5),
        schedule_days=schedule_days,
        waivers=True,
        start=start,
        max_seconds=max_seconds * 0.1,
    )
    # Roles with min 0 left empty: a deadlock may need an optional role nobody holds.
    smallest = smallest_cast(definition)
    others = []
    if smallest != plain.cast:
        others.append(
            explore(
                definition,
                max_nodes=max_nodes,
                schedule_days=schedule_days,
                start=start,
                max_seconds=max_seconds * 0.1,
                cast=smallest,
            )
        )
    t = definition.type
    checks: list[Check] = []
    seen_states = {st.state for st in plain.states}
    unreachable = [s for s in t.states if s not in seen_states]
    checks.append(_unreached(definition, plain, "every state is reachable", unreachable))
    terminals = [s for s in t.terminal_states() if s not in seen_states]
    checks.append(_unreached(definition, plain, "every terminal state is reachable", terminals))
    checks.append(_dead_ends(definition, plain, waived, others))
    unsafe = plain.unsafe + waived.unsafe + [u for other in others for u in other.unsafe]
    checks.append(
        Check(
            "no step is allowed while blocked",
            not unsafe,
            "every allowed step had its role, deliverables and open window"
            if not unsafe
            else unsafe[0][1],
            tuple(plain.path_to(unsafe[0][0])) if unsafe and unsafe[0] in plain.unsafe else (),
        )
    )
    checks.append(_windows(definition, plain, *others))
    checks.append(_every_step(definition, plain))
    checks.append(_submitters(definition, plain))
    if not plain.complete:  # what was not reached may lie past the cut
        checks = [_within_the_cut(c) for c in checks]
    completion = {
        i
        for i, st in enumerate(plain.states)
        if st.terminal and st.state not in _escape_states(definition)
    }
    if plain.complete:
        bound = ""
    elif plain.timed_out:
        bound = f"--max-seconds {max_seconds:g} ({len(plain.states):,} nodes explored)"
    elif len(plain.states) >= max_nodes:
        bound = f"--max-nodes {max_nodes}"
    else:
        bound = f"the clock stops at {plain.horizon:%Y-%m-%d} (a step repeats without end)"
    return Report(
        definition.id,
        len(plain.states),
        len(plain.edges),
        _count_paths(plain, completion),
        plain.complete,
        bound,
        len(waived.states),
        waived.complete,
        tuple(checks),
    )


_REACHING = {
    "every state is reachable",
    "every terminal state is reachable",
    "every step can be taken",
    "every owed deliverable can be submitted",
}


def _within_the_cut(check: Check) -> Check:
    if check.passed or check.name not in _REACHING:
        return check
    return attrs.evolve(
        check,
        detail=f"{check.detail} (in the part explored before a bound cut it: "
        "raise --max-nodes to know)",
    )


def _stuck(ex: Exploration) -> list[int]:
    """Nodes from which no terminal state can be reached (a bound's frontier may, for all
    we know)."""
    terminal = {i for i, st in enumerate(ex.states) if st.terminal}
    frontier = (set(range(len(ex.states))) - ex.expanded) | ex.cut
    reach_any = _can_reach(ex, terminal | frontier)
    return [i for i in range(len(ex.states)) if i not in reach_any]


def _dead_ends(
    definition: CompiledDefinition,
    plain: Exploration,
    waived: Exploration,
    others: Sequence[Exploration] = (),
) -> Check:
    escapes = _escape_states(definition)
    terminal = {i for i, st in enumerate(plain.states) if st.terminal}
    stuck = _stuck(plain)
    if stuck:
        node = stuck[0]
        return Check(
            "no dead end",
            False,
            f"{len(stuck)} node(s) reach no terminal state; first in state "
            f"'{plain.states[node].state}'",
            tuple(plain.path_to(node)),
        )
    for other in others:
        stuck = _stuck(other)
        if stuck:
            # the node where nothing moves on is the clearest counterexample
            leaving = {e.source for e in other.edges if e.target != e.source}
            node = next((i for i in stuck if i not in leaving), stuck[0])
            return Check(
                "no dead end",
                False,
                f"with {_cast_text(other.cast, definition)}: {len(stuck)} node(s) reach no "
                f"terminal state; first in state '{other.states[node].state}'",
                (_cast_text(other.cast, definition), *other.path_to(node)),
            )
    complete = {i for i in terminal if plain.states[i].state not in escapes}
    plain_ok = _can_reach(plain, complete)
    w_complete = {
        i for i, st in enumerate(waived.states) if st.terminal and st.state not in escapes
    }
    w_ok = _can_reach(waived, w_complete)
    return Check(
        "no dead end",
        True,
        f"every node reaches a terminal state; {len(plain_ok)} of {len(plain.states)} can still "
        f"complete without waivers, {len(w_ok)} of {len(waived.states)} with waivers; the rest "
        f"end only by {', '.join(sorted(escapes)) or 'nothing'}",
    )


def _windows(definition: CompiledDefinition, *explored: Exploration) -> Check:
    for ex in explored:
        if ex.contradictions:
            node, what = ex.contradictions[0]
            return Check("windows can be met", False, what, tuple(ex.path_to(node)))
    static = _same_anchor_contradictions(definition)
    if static:
        return Check("windows can be met", False, static[0], ())
    return Check("windows can be met", True, "no step's window closes before it opens")


def _same_anchor_contradictions(definition: CompiledDefinition) -> list[str]:
    """Windows whose two bounds count from the same anchor and close before they open for
    some anchor day of a year: found without exploring, so a step the exploration never
    reached (anchored on a step, not only on a date scheduled late) is still checked."""
    t = definition.type
    windows = [(f"step {tr.event}", tr.window) for tr in t.transitions]
    windows += [(f"deliverable {name}", d.window) for name, d in t.deliverables.items()]
    found = []
    first = date(2027, 1, 1)
    for what, window in windows:
        if window is None or window.opens is None or window.closes is None:
            continue
        if window.opens.anchor != window.closes.anchor:
            continue
        for offset in range(0, 366, 7):
            day = first + timedelta(days=offset)
            opens = opening_instant(window.opens, day, t.timezone, t.country)
            closes = closing_instant(window.closes, day, t.timezone, t.country)
            if closes <= opens:
                found.append(
                    f"{what} closes ({window.closes.describe()}) before it opens "
                    f"({window.opens.describe()}), counted from {window.opens.anchor} on "
                    f"{day.isoformat()}"
                )
                break
    return found


def _blocked_at(
    definition: CompiledDefinition, plain: Exploration, src: str, event: str
) -> tuple[str, ...]:
    """A path to the first node in ``src``, then why ``event`` is blocked there."""
    node = next(i for i, st in enumerate(plain.states) if st.state == src)
    steps = definition.next_steps(plain.states[node], plain.moments[node])
    why = "; ".join(b.describe() for s in steps if s.name == event for b in s.blockers)
    path = plain.path_to(node)
    where = "then" if path else "at the start"
    return (*path, f"{where} '{event}' is blocked: {why or 'not offered'}")


def _every_step(definition: CompiledDefinition, plain: Exploration) -> Check:
    taken = {(plain.states[e.source].state, e.step) for e in plain.edges if e.kind == FIRE}
    seen = {st.state for st in plain.states}
    t = definition.type
    for tr in t.transitions:
        for src in t.sources_of(tr):
            if (src, tr.event) in taken or src not in seen:
                continue
            return Check(
                "every step can be taken",
                False,
                f"step '{tr.event}' from '{src}' is never allowed on any path",
                _blocked_at(definition, plain, src, tr.event),
            )
    return Check("every step can be taken", True, "every step is allowed on some path")


def _unreached(
    definition: CompiledDefinition, plain: Exploration, name: str, states: list[str]
) -> Check:
    if not states:
        return Check(name, True, "all reached")
    seen = {st.state for st in plain.states}
    t = definition.type
    path: tuple[str, ...] = ()
    for tr in t.transitions:
        if tr.dest in states:
            src = next((s for s in t.sources_of(tr) if s in seen), None)
            if src is not None:
                path = _blocked_at(definition, plain, src, tr.event)
                break
    return Check(name, False, f"never reached: {', '.join(states)}", path)


def _submitters(definition: CompiledDefinition, plain: Exploration) -> Check:
    t = definition.type
    for name, deliverable in t.deliverables.items():
        for actor in plain.cast:
            if actor.role in deliverable.owed_by and (name, actor.id) not in plain.submitted_by:
                states = deliverable.during or tuple(t.states)
                src = next((st.state for st in plain.states if st.state in states), None)
                path = _blocked_at(definition, plain, src, name) if src is not None else ()
                return Check(
                    "every owed deliverable can be submitted",
                    False,
                    f"{actor.id} ({actor.role}) owes '{name}' but can submit it on no path",
                    path,
                )
    return Check(
        "every owed deliverable can be submitted",
        True,
        "each participant owing a deliverable submits it on some path",
    )
