"""The application: each resource a handler over the store, the store's guarantees as HTTP.

- The programme's next seq is its ETag; a write with ``If-Match: "N"`` applies only if the
  programme is still at N (412 with the current version otherwise).
- ``Idempotency-Key`` is the event's id: a retry returns the first result and writes
  nothing; the same key with another body is 409.
- A created programme or event is 201 with its Location.
- Pages go by position: ``after`` (a programme id, or the store's global position).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import attrs
from litestar import Litestar, Request, Response, Router, delete, get, post
from litestar.config.compression import CompressionConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, Link, OpenAPIResponse, SecurityScheme
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream

from peerflow._errors import HistoryError, PeerflowError, UnknownDefinition
from peerflow._ics import MEDIA_TYPE, ics, participant_items, programme_items
from peerflow.engine._commands import (
    claim_payload,
    fire_payload,
    join_payload,
    pay_payload,
    schedule_payload,
    submit_payload,
    waive_payload,
)
from peerflow.engine._forecast import Forecast
from peerflow.engine._registry import builtin_files, definition
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import status_dict
from peerflow.events._envelope import Actor, Event, decode_line, id_problem, parse_timestamp
from peerflow.http._config import Portal, ServiceConfig
from peerflow.http._problems import (
    PROBLEM_JSON,
    ProblemOut,
    _Refusal,
    log,
    on_http_error,
    on_peerflow_error,
    on_unexpected,
)
from peerflow.http._schemas import (
    ActorOut,
    AgendaItemOut,
    AgendaOut,
    BatchIn,
    ClaimIn,
    DateIn,
    DefinitionOut,
    EventIn,
    EventOut,
    EventPage,
    Health,
    JoinIn,
    ParticipantOut,
    PaymentIn,
    PositionedEvent,
    ProgrammeIn,
    ProgrammeList,
    ProgrammeOut,
    StatusOut,
    StepIn,
    SubmissionIn,
    WaiverIn,
    WebhookIn,
    WebhookOut,
)
from peerflow.http._web import PAGES, Forecasts
from peerflow.http._webhooks import KINDS, Attempt, Outbox, Subscription
from peerflow.model._mermaid import mermaid
from peerflow.model._pages import programme_page
from peerflow.replay._exports import write_json
from peerflow.replay._files import replay_files
from peerflow.store._store import Store, open_store

MAX_BODY = 1_000_000
"""The largest JSON body a write takes (bytes); a batch of a few thousand events fits."""
MAX_UPLOAD = 50_000_000
"""The largest JSON Lines file ``POST /replay`` takes (bytes): about 150,000 events, whose
replay the service holds in memory (~400 bytes an event); larger files are the command
line's (``peerflow replay``, ``-j N``, or Dask)."""
UPLOAD_NAME = "upload.jsonl"
MAX_PAGE = 1000
MAX_POSITION = 2**53
"""The largest seq or store position a query takes: below a database's 64-bit integers, and
exact in the JSON numbers of every client (JavaScript's included)."""
OPENAPI_PATH = "/openapi"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Service:
    """What every handler works with: the store, the portals, the clock (the engine takes
    time as an input; the service is where "now" is read)."""

    def __init__(
        self, store: Store, config: ServiceConfig, clock: Clock = _now, outbox: Outbox | None = None
    ) -> None:
        self.store, self.config, self.clock, self.outbox = store, config, clock, outbox

    def sees(self, portal: str, programme: str) -> bool:
        """The scope of the portal named ``portal`` (webhooks are sent long after a request)."""
        return any(p.name == portal and p.sees(programme) for p in self.config.portals)

    def webhooks(self) -> Outbox:
        if self.outbox is None:
            raise _Refusal(404, "not-found", "Not Found", "this service sends no webhooks")
        return self.outbox

    def state(self, portal: Portal, programme: str) -> ProgrammeState:
        """A programme the portal may see (another portal's is "no such programme": the
        service does not say what exists outside a portal's scope)."""
        if id_problem(programme) is not None or not portal.sees(programme):
            raise _Refusal(
                404,
                "no-such-programme",
                "No such programme",
                f"no programme '{programme}' in the store",
                programme=programme,
            )
        return self.store.state(programme)

    def moment(self, at: datetime | str | None, field: str = "at") -> datetime:
        """``at`` as given (a query's text is read as the envelope reads one), or now."""
        if at is None:
            return self.clock()
        if isinstance(at, str):
            try:
                return parse_timestamp(at, field)
            except ValueError as exc:
                raise _Refusal(
                    400, "invalid-moment", "Not a moment", " ".join(str(exc).split())[:300]
                ) from None
        if at.tzinfo is None or at.utcoffset() is None:
            raise _Refusal(
                422,
                "invalid-moment",
                "A moment needs an offset",
                f"{field}: {at.isoformat()} has no offset (write 2027-02-01T10:00:00+01:00 or Z)",
            )
        return at

    def actor(self, st: ProgrammeState, by: str) -> Actor:
        _check_id(by, "by")
        role = st.role_of(by)
        if role is None:
            raise _Refusal(
                422,
                "not-a-participant",
                "The actor is not a participant",
                f"'{by}' is not a participant of '{st.programme}': the portal acts for "
                "a participant of the programme (join them first)",
                programme=st.programme,
            )
        return Actor(role, by)

    def acting(self, st: ProgrammeState, by: str, kind: str, payload: dict[str, Any]) -> Actor:
        """The actor of an event: ``by`` in their role, or, joining themselves, in the role
        they join (the engine then checks that the role lets them)."""
        if st.role_of(by) is None and kind == "join" and payload.get("participant") == by:
            joining = payload.get("role")
            if isinstance(joining, str) and id_problem(by) is None:
                return Actor(joining, by)
        return self.actor(st, by)

    def record(
        self,
        portal: Portal,
        programme: str,
        kind: str,
        payload: dict[str, Any],
        by: str,
        at: datetime | None,
        version: str | None,
        key: str | None,
    ) -> Response[ProgrammeOut]:
        st = self.state(portal, programme)
        after = self.store.record(
            programme,
            kind,
            payload,
            at=self.moment(at),
            actor=self.acting(st, by, kind, payload),
            event_id=idempotency_key(key),
            expected_next_seq=if_match(version),
        )
        return written(after, f"/programmes/{programme}/events/{after.next_seq - 1}")


def _check_id(value: str, field: str) -> None:
    problem = id_problem(value)
    if problem is not None:
        raise _Refusal(422, "invalid-id", "Not an id", f"{field} {problem}")


def if_match(value: str | None) -> int | None:
    """The next seq the caller's write was decided on (``If-Match: "N"``), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith('"') and text.endswith('"') and text[1:-1].isdecimal() and len(text) < 20:
        return int(text[1:-1])
    raise _Refusal(
        400,
        "invalid-header",
        "If-Match is not a version of this API",
        'If-Match takes the ETag of a programme as it was sent: a quoted number such as "7"',
    )


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    problem = id_problem(value)
    if problem is not None:
        raise _Refusal(
            400, "invalid-header", "Idempotency-Key is not an id", f"Idempotency-Key {problem}"
        )
    return value


def etag(st: ProgrammeState) -> dict[str, str]:
    return {"ETag": f'"{st.next_seq}"'}


def programme_out(st: ProgrammeState) -> ProgrammeOut:
    return ProgrammeOut(
        programme=st.programme,
        definition=st.definition.id,
        definition_version=st.definition.version,
        state=st.state,
        terminal=st.terminal,
        next_seq=st.next_seq,
        started_at=st.started_at,
        last_at=st.last_at,
        timezone=st.timezone,
        country=st.country,
        participants=[ParticipantOut(pid, role) for pid, role in st.members()],
    )


def written(st: ProgrammeState, location: str) -> Response[ProgrammeOut]:
    return Response(programme_out(st), status_code=201, headers={**etag(st), "Location": location})


def event_out(event: Event) -> EventOut:
    return EventOut(
        event.programme,
        event.seq,
        event.id,
        event.at,
        ActorOut(event.actor.role, event.actor.id),
        event.type,
        dict(event.payload),
    )


# --- who is calling --------------------------------------------------------------------------


async def require_portal(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Every route but the public ones needs a portal's bearer token."""
    if (
        handler.opt.get("public")
        or connection.scope["path"].startswith(OPENAPI_PATH)
        or connection.scope.get("method") == "OPTIONS"  # a preflight: methods only, no data
    ):
        return
    service: NamedDependency[Service] = connection.app.state.service
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    portal = service.config.portal_for(token.strip()) if scheme.lower() == "bearer" else None
    if portal is None:
        raise _Refusal(
            401,
            "unauthorized",
            "A portal's bearer token is needed",
            "send Authorization: Bearer TOKEN with a token from the service's configuration",
            headers={"WWW-Authenticate": 'Bearer realm="peerflow"'},
        )
    connection.state.portal = portal


def portal_of(request: Request[Any, Any, Any]) -> Portal:
    portal: Portal = request.state.portal
    return portal


def service_of(request: Request[Any, Any, Any]) -> Service:
    service: NamedDependency[Service] = request.app.state.service
    return service


async def before_handler(request: Request[Any, Any, Any]) -> Response[None] | None:
    """What every request goes through before its handler: OPTIONS answered with every method
    of the path (Litestar lists only those of the first handler registered for it), unknown
    query parameters refused, JSON bodies read strictly."""
    if request.method == "OPTIONS":
        template = _plain_path(str(request.scope.get("path_template", "")))
        methods = request.app.state.methods.get(template, ())
        return Response(None, status_code=204, headers={"Allow": ", ".join(methods)})
    known = request.app.state.queries.get(request.scope["route_handler"].handler_name)
    if known is not None:
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise _Refusal(
                400,
                "unknown-query-parameter",
                "Unknown query parameter",
                f"unknown query parameter(s) {', '.join(repr(u) for u in unknown)[:200]}"
                f" (this resource takes: {', '.join(sorted(known)) or 'none'})",
            )
        twice = sorted(k for k in known if len(request.query_params.getall(k, [])) > 1)
        if twice:
            raise _Refusal(
                400,
                "repeated-query-parameter",
                "A query parameter given twice",
                f"query parameter '{twice[0]}' is given more than once: which one is meant?",
            )
    await strict_body(request)
    return None


async def strict_body(request: Request[Any, Any, Any]) -> None:
    """A JSON body is read the one way peerflow reads JSON before the framework sees it: a key
    twice, NaN, or nesting past the limit is refused here (the framework would keep the last
    key, or fail deep inside)."""
    path = request.scope["path"]
    if request.method not in {"POST", "PUT", "PATCH"} or path == "/replay":
        return
    if path.startswith("/ui/"):
        return  # the web page's forms: read field by field there (peerflow.http._web)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise _Refusal(
            413,
            "too-large",
            "The body is too large",
            f"the body is {len(body):,} bytes; at most {MAX_BODY:,}",
        )
    try:
        decode_line(body)
    except UnicodeDecodeError:
        raise _Refusal(
            400, "invalid-json", "The body is not JSON", "the body is not UTF-8"
        ) from None
    except ValueError as exc:
        raise _Refusal(
            400,
            "invalid-json",
            "The body is not JSON",
            " ".join(f"the body is not JSON: {exc}".split())[:300],
        ) from None


# --- OpenAPI details -------------------------------------------------------------------------


def _problems(*codes: int) -> dict[int, ResponseSpec]:
    words = {
        400: "the request does not fit the API (a bad header, field or JSON)",
        401: "no valid bearer token",
        404: "no such programme (or not the portal's), definition or event",
        409: "a step not allowed now (with its blockers), a programme that exists, or an "
        "Idempotency-Key reused for another write",
        412: "If-Match names a version that is no longer current (the ETag has the current)",
        413: "the body is too large",
        422: "an event the engine refuses, an actor who is not a participant, a bad moment",
    }
    return {
        code: ResponseSpec(
            ProblemOut, description=words[code], media_type=PROBLEM_JSON, generate_examples=False
        )
        for code in (400, 401, *codes)
    }


_ETAG = [
    ResponseHeader(name="ETag", description="the programme's next seq", documentation_only=True)
]
_WRITTEN = [
    *_ETAG,
    ResponseHeader(name="Location", description="the new resource", documentation_only=True),
]
_WRITE = _problems(404, 409, 412, 413, 422)
AtQuery = Annotated[
    str | None,
    QueryParameter(
        format="date-time",
        pattern=r"^(19|2[0-9])[0-9][0-9]-",
        description="the moment asked about, ISO 8601 with its offset, in the years 1900 to "
        "2999 (default: now)",
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='the programme\'s ETag the write was decided on ("7"): 412 if it moved on',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="the event's id: a retry returns the first result and writes nothing",
    ),
]


# --- resources -------------------------------------------------------------------------------


@get("/health", opt={"public": True}, sync_to_thread=False, tags=["service"], security=[{}])
def health() -> Health:
    """Whether the service answers (no token needed)."""
    from peerflow import __version__  # noqa: PLC0415 - the namespace, read once

    return Health("ok", __version__)


@get("/definitions", sync_to_thread=False, tags=["definitions"], responses=_problems())
def list_definitions() -> list[DefinitionOut]:
    """The built-in programme types."""
    out = []
    for name in sorted(builtin_files()):
        t = definition(name).type
        out.append(DefinitionOut(t.id, t.version, t.title))
    return out


def _definition(definition_id: str) -> Any:
    try:
        return definition(definition_id)
    except UnknownDefinition:
        raise _Refusal(
            404,
            "unknown-definition",
            "No such definition",
            f"no built-in definition '{definition_id}'",
        ) from None


@get(
    "/definitions/{definition_id:str}",
    sync_to_thread=False,
    tags=["definitions"],
    responses=_problems(404),
)
def show_definition(definition_id: FromPath[str]) -> dict[str, Any]:
    """A definition as JSON, in the shape of its YAML."""
    from peerflow.model._loading import CONVERTER  # noqa: PLC0415

    data: dict[str, Any] = CONVERTER.unstructure(_definition(definition_id).type)
    return data


@get(
    "/definitions/{definition_id:str}/diagram",
    sync_to_thread=False,
    tags=["definitions"],
    media_type="text/plain",
    responses=_problems(404),
)
def definition_diagram(definition_id: FromPath[str]) -> str:
    """A Mermaid state diagram of the definition."""
    return mermaid(_definition(definition_id).type)


@get(
    "/definitions/{definition_id:str}/page",
    sync_to_thread=False,
    tags=["definitions"],
    media_type="text/markdown",
    responses=_problems(404),
)
def definition_page(definition_id: FromPath[str]) -> str:
    """The definition's programme page (Markdown): its steps, windows, deliverables and
    budget, each row with the rule IDs of the guideline it encodes."""
    compiled = _definition(definition_id)
    return programme_page(compiled.type, mermaid(compiled.type))


@post(
    "/programmes",
    sync_to_thread=True,
    tags=["programmes"],
    response_headers=_WRITTEN,
    responses=_problems(409, 413, 422),
)
def create_programme(
    data: JSONBody[ProgrammeIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Start a programme: 201 with its Location; a retry with the same Idempotency-Key
    returns it again."""
    _check_id(data.programme, "programme")
    if not portal.sees(data.programme):
        raise _Refusal(
            422,
            "outside-scope",
            "Outside the portal's programmes",
            f"programme ids of this portal start with '{portal.programmes}'",
        )
    compiled = definition(data.definition, data.version)
    participants = [(p.id, p.role) for p in data.participants]
    roles = dict(participants)
    if data.by not in roles:
        raise _Refusal(
            422,
            "not-a-participant",
            "The actor is not a participant",
            f"by '{data.by}' must be one of the participants ({', '.join(roles) or 'none listed'})",
        )
    at = service.moment(data.at)
    st = service.store.start(
        compiled,
        data.programme,
        at=at,
        actor=Actor(roles[data.by], data.by),
        participants=participants,
        timezone=data.timezone,
        country=data.country,
        event_id=idempotency_key(key),
    )
    return written(st, f"/programmes/{data.programme}")


@get("/programmes", sync_to_thread=True, tags=["programmes"], responses=_problems(422))
def list_programmes(
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    definition_id: Annotated[str | None, QueryParameter(name="definition")] = None,
    in_state: Annotated[str | None, QueryParameter(name="state")] = None,
    participant: FromQuery[str | None] = None,
    overdue: FromQuery[bool | None] = None,
    at: AtQuery = None,
    after: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
) -> ProgrammeList:
    """Programmes in id order, filtered; ``overdue`` asks the deadlines at ``at`` (default:
    now)."""
    moment = service.moment(at)
    rows = sorted(
        (
            r
            for r in service.store.programmes(definition=definition_id, state=in_state)
            if portal.sees(r.programme) and (after is None or r.programme > after)
        ),
        key=lambda r: r.programme,
    )
    items: list[ProgrammeOut] = []
    last: str | None = None
    for row in rows:
        if len(items) == limit:
            return ProgrammeList(items, last)
        st = service.store.state(row.programme)
        if participant is not None and st.role_of(participant) is None:
            continue
        if overdue is not None:
            late = any(d.overdue for d in st.definition.deadlines(st, moment))
            if late != overdue:
                continue
        items.append(programme_out(st))
        last = row.programme
    return ProgrammeList(items, None)


@get(
    "/programmes/{programme_id:str}",
    sync_to_thread=True,
    tags=["programmes"],
    response_headers=_ETAG,
    responses=_problems(404),
)
def get_programme(
    programme_id: FromPath[str], service: NamedDependency[Service], portal: NamedDependency[Portal]
) -> Response[ProgrammeOut]:
    """Where the programme stands; the ETag is its next seq (for If-Match)."""
    st = service.state(portal, programme_id)
    return Response(programme_out(st), headers=etag(st))


@get(
    "/programmes/{programme_id:str}/next",
    sync_to_thread=True,
    tags=["programmes"],
    response_headers=_ETAG,
    responses=_problems(404, 422),
)
def next_steps(
    programme_id: FromPath[str],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    at: AtQuery = None,
    role: FromQuery[str | None] = None,
    participant: FromQuery[str | None] = None,
) -> Response[StatusOut]:
    """Every step open from the programme's state, allowed or with its blockers, and what is
    due by when, at ``at`` (default: now), for a role or a participant."""
    st = service.state(portal, programme_id)
    moment = service.moment(at)
    if role is not None and participant is not None:
        raise _Refusal(
            422,
            "invalid-query",
            "Ask for a role or a participant",
            "give role or participant, not both",
        )
    actor: Actor | str | None = role
    if role is not None and role not in st.definition.role_names:
        raise _Refusal(
            422,
            "unknown-role",
            "No such role",
            f"'{role}' is no role of {st.definition.id} "
            f"(roles: {', '.join(st.definition.role_names)})",
        )
    if participant is not None:
        actor = service.actor(st, participant)
    steps = st.definition.next_steps(st, moment, actor, participation=True)
    data = status_dict(st, moment, steps, st.definition.deadlines(st, moment))
    data["at"] = moment
    return Response(StatusOut(**data), headers=etag(st))


@get(
    "/programmes/{programme_id:str}/forecast",
    sync_to_thread=True,
    tags=["programmes"],
    response_headers=_ETAG,
    responses=_problems(404, 422),
)
def programme_forecast(
    programme_id: FromPath[str],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    at: AtQuery = None,
) -> Response[Forecast]:
    """Whether the programme can still finish in time from ``at`` (default: now), each
    remaining step's earliest and latest moment, the way that finishes first, and the step
    that needs a waiver where it cannot (``peerflow next --forecast --json`` says the same)."""
    st = service.state(portal, programme_id)
    moment = service.moment(at)
    if moment < st.last_at:
        raise _Refusal(
            422,
            "before-history",
            "A moment before the programme's latest event",
            f"at must not be before {st.last_at.isoformat()}, the programme's latest event",
        )
    return Response(st.definition.forecast(st, moment), headers=etag(st))


@get(
    "/programmes/{programme_id:str}/events",
    sync_to_thread=True,
    tags=["events"],
    responses=_problems(404, 422),
)
def programme_events(
    programme_id: FromPath[str],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    start: Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)] = 0,
    stop: Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)] = MAX_POSITION,
) -> list[EventOut]:
    """The programme's events with ``start <= seq < stop``."""
    service.state(portal, programme_id)
    return [event_out(e) for e in service.store.events(programme_id, start, stop)]


@get(
    "/programmes/{programme_id:str}/events/{seq:int}",
    sync_to_thread=True,
    tags=["events"],
    responses=_problems(404),
)
def programme_event(
    programme_id: FromPath[str],
    seq: FromPath[int],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
) -> EventOut:
    service.state(portal, programme_id)
    found = service.store.events(programme_id, seq, seq + 1) if seq >= 0 else []
    if not found:
        raise _Refusal(
            404, "no-such-event", "No such event", f"programme '{programme_id}' has no event {seq}"
        )
    return event_out(found[0])


@post(
    "/programmes/{programme_id:str}/events",
    sync_to_thread=True,
    tags=["events"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def append_event(
    programme_id: FromPath[str],
    data: JSONBody[EventIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Record one event of any type, strictly (a step not allowed now is 409 with its
    blockers, and nothing is written)."""
    if data.type == "start":
        raise _Refusal(
            422,
            "event-refused",
            "The event was refused",
            "a programme is started with POST /programmes",
        )
    st = service.state(portal, programme_id)
    key = data.id if data.id is not None else idempotency_key(key)
    after = service.store.record(
        programme_id,
        data.type,
        data.payload,
        at=service.moment(data.at),
        actor=service.acting(st, data.by, data.type, data.payload),
        event_id=key,
        expected_next_seq=if_match(version),
    )
    return written(after, f"/programmes/{programme_id}/events/{after.next_seq - 1}")


@post(
    "/programmes/{programme_id:str}/batches",
    sync_to_thread=True,
    tags=["events"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def append_batch(
    programme_id: FromPath[str],
    data: JSONBody[BatchIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Record events all or nothing, in order; each actor's role is read from the programme
    as it stands when their event applies (a participant who joins in the batch may act
    after their join)."""
    if not data.events:
        raise _Refusal(422, "event-refused", "The event was refused", "the batch is empty")
    st = service.state(portal, programme_id)
    expected = if_match(version)
    key = idempotency_key(key)
    first = st.next_seq if expected is None else expected
    if key is not None:  # a retry goes where the first try went, so the store knows it
        done = [e.seq for e in service.store.events(programme_id) if e.id == f"{key}.0"]
        first = done[0] if done else first
    events, state = [], st
    for index, item in enumerate(data.events):
        if item.type == "start":
            raise _Refusal(
                422,
                "event-refused",
                "The event was refused",
                f"events[{index}]: a programme is started with POST /programmes",
            )
        event_id = item.id or (f"{key}.{index}" if key is not None else str(uuid.uuid4()))
        event = Event(
            programme_id,
            first + index,
            event_id,
            service.moment(item.at),
            _batch_actor(service, state, item, index),
            item.type,
            item.payload,
        )
        events.append(event)
        if state.next_seq == event.seq:  # the roles of a later event come from this one
            with suppress(PeerflowError):  # the store refuses it below, with the engine's reason
                state = state.definition.apply(state, event)
    after = service.store.append(events, expected_next_seq=first)
    return written(after, f"/programmes/{programme_id}/events/{first}")


def _batch_actor(service: Service, state: ProgrammeState, item: EventIn, index: int) -> Actor:
    try:
        return service.acting(state, item.by, item.type, item.payload)
    except _Refusal as exc:
        exc.detail = f"events[{index}]: {exc.detail}"
        raise


@post(
    "/programmes/{programme_id:str}/submissions",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def submit(
    programme_id: FromPath[str],
    data: JSONBody[SubmissionIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Hand in a deliverable (``content`` for one with parts)."""
    payload = submit_payload(data.deliverable, data.ref, data.content)
    return service.record(portal, programme_id, "submit", payload, data.by, data.at, version, key)


@post(
    "/programmes/{programme_id:str}/steps",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def fire(
    programme_id: FromPath[str],
    data: JSONBody[StepIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Take a step that moves the programme to its next state."""
    payload = fire_payload(data.step)
    return service.record(portal, programme_id, "fire", payload, data.by, data.at, version, key)


@post(
    "/programmes/{programme_id:str}/dates",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def schedule(
    programme_id: FromPath[str],
    data: JSONBody[DateIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Set a date the definition names (a visit, a meeting)."""
    payload = schedule_payload(data.date, data.value)
    return service.record(portal, programme_id, "schedule", payload, data.by, data.at, version, key)


@post(
    "/programmes/{programme_id:str}/waivers",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def waive(
    programme_id: FromPath[str],
    data: JSONBody[WaiverIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Lift blockers of a step of the current state, with the reason on record."""
    payload = waive_payload(data.kind, data.step, data.blockers, data.reason, data.participant)
    return service.record(portal, programme_id, "waive", payload, data.by, data.at, version, key)


@post(
    "/programmes/{programme_id:str}/joins",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def join(
    programme_id: FromPath[str],
    data: JSONBody[JoinIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Add a participant in a role that joins after the start (``by``: the participant
    themselves where the role allows, or one who may add them)."""
    payload = join_payload(data.participant, data.role)
    return service.record(portal, programme_id, "join", payload, data.by, data.at, version, key)


@post(
    "/programmes/{programme_id:str}/claims",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def claim(
    programme_id: FromPath[str],
    data: JSONBody[ClaimIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Claim costs against the programme's budget."""
    payload = claim_payload(
        data.items, data.claim, data.invoice_date, data.bank_details, data.accept_cap
    )
    return service.record(portal, programme_id, "claim", payload, data.by, data.at, version, key)


@post(
    "/programmes/{programme_id:str}/payments",
    sync_to_thread=True,
    tags=["steps"],
    response_headers=_WRITTEN,
    responses=_WRITE,
)
def pay(
    programme_id: FromPath[str],
    data: JSONBody[PaymentIn],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    version: IfMatch = None,
    key: IdempotencyKey = None,
) -> Response[ProgrammeOut]:
    """Reimburse a claim (``amount`` defaults to what it may be paid)."""
    payload = pay_payload(data.claim, data.amount)
    return service.record(portal, programme_id, "pay", payload, data.by, data.at, version, key)


@get("/agenda", sync_to_thread=True, tags=["programmes"], responses=_problems(422))
def agenda(
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    at: AtQuery = None,
    within_days: Annotated[int, QueryParameter(ge=0, le=3660)] = 14,
    role: FromQuery[str | None] = None,
) -> AgendaOut:
    """What is overdue, and what falls due within ``within_days``, across the portal's live
    programmes, soonest first."""
    moment = service.moment(at)
    items = [
        AgendaItemOut(i.programme, i.deadline.to_dict())
        for i in service.store.agenda(moment, timedelta(days=within_days), role=role)
        if portal.sees(i.programme)
    ]
    return AgendaOut(moment, within_days, items)


@get("/events", sync_to_thread=True, tags=["events"], responses=_problems())
def event_feed(
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    after: Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
) -> EventPage:
    """The portal's events in commit order from the store's global position ``after``."""
    items: list[PositionedEvent] = []
    for position, event in service.store.export(after):
        if portal.sees(event.programme):
            items.append(PositionedEvent(position, event_out(event)))
            if len(items) == limit:
                return EventPage(items, position)
    return EventPage(items, None)


@get(
    "/export",
    sync_to_thread=True,
    tags=["events"],
    media_type="application/jsonl",
    responses=_problems(),
)
def export(
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    after: Annotated[int, QueryParameter(ge=0, le=MAX_POSITION)] = 0,
) -> Stream:
    """Every event the portal sees as JSON Lines (the interchange format), streamed."""

    def lines() -> Iterator[str]:
        for _, event in service.store.export(after):
            if portal.sees(event.programme):
                yield event.to_line() + "\n"

    return Stream(lines(), media_type="application/jsonl")


@post(
    "/replay",
    tags=["replay"],
    responses=_problems(413),
    status_code=200,
    request_max_body_size=MAX_UPLOAD,
)
async def replay_upload(
    request: Request[Any, Any, Any], summary_only: FromQuery[bool] = False
) -> Stream:
    """Replay an uploaded JSON Lines file (any programmes, not kept): the report as
    ``peerflow replay --format json`` writes it, streamed. The upload and the report go
    through a temporary folder and the replay runs in a worker thread, so neither the
    service's memory nor its other requests wait on a large file."""
    folder = Path(tempfile.mkdtemp(prefix="peerflow-replay-"))
    try:
        path = folder / "upload.jsonl"
        size = 0
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise _Refusal(
                        413, "too-large", "The upload is too large", f"at most {MAX_UPLOAD:,} bytes"
                    )
                out.write(chunk)
        report = folder / "report.json"
        await asyncio.to_thread(_replay_report, path, report, summary_only)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def chunks() -> Iterator[bytes]:
        try:
            with report.open("rb") as stream:
                while block := stream.read(1 << 16):
                    yield block
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return Stream(chunks(), media_type="application/json")


def _replay_report(path: Path, report: Path, summary_only: bool) -> None:
    """The report of ``path``, naming the upload as the client knows it ("upload.jsonl"), not
    by this machine's temporary path."""
    result = replay_files(path)

    def renamed(problems: Sequence[HistoryError]) -> tuple[HistoryError, ...]:
        return tuple(HistoryError(UPLOAD_NAME, e.line, e.reason, e.programme) for e in problems)

    programmes = [
        attrs.evolve(p, problems=renamed(p.problems)) if p.problems else p for p in result
    ]
    with report.open("w", encoding="utf-8") as out:
        write_json(programmes, renamed(result.problems), out, summary_only=summary_only)


@get(
    "/programmes/{programme_id:str}/calendar.ics",
    sync_to_thread=True,
    tags=["calendars"],
    media_type=MEDIA_TYPE,
    responses=_problems(404),
)
def programme_calendar(
    programme_id: FromPath[str], service: NamedDependency[Service], portal: NamedDependency[Portal]
) -> Response[bytes]:
    """The programme's scheduled dates and deadlines as iCalendar (RFC 5545): stable UIDs,
    SEQUENCE raised each time an entry's moment moved."""
    service.state(portal, programme_id)
    now = service.clock()
    items = programme_items(service.store.events(programme_id), now)
    return Response(ics(programme_id, items, now), media_type=MEDIA_TYPE)


@get(
    "/participants/{participant_id:str}/calendar.ics",
    sync_to_thread=True,
    tags=["calendars"],
    media_type=MEDIA_TYPE,
    responses=_problems(404),
)
def participant_calendar(
    participant_id: FromPath[str],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
) -> Response[bytes]:
    """A participant's calendar across the portal's programmes: every date of their
    programmes and the deadlines that wait for them or their role."""
    now = service.clock()
    store = service.store
    found = participant_items(
        (store.state(r.programme) for r in store.programmes() if portal.sees(r.programme)),
        store.events,
        participant_id,
        now,
    )
    if found is None:
        raise _Refusal(
            404,
            "no-such-participant",
            "No such participant",
            f"'{participant_id[:200]}' takes part in none of the portal's programmes",
        )
    return Response(ics(participant_id, found, now), media_type=MEDIA_TYPE)


def _webhook_out(sub: Subscription, secret: str | None = None) -> WebhookOut:
    return WebhookOut(sub.id, sub.url, list(sub.kinds), sub.reminder_days, sub.created, secret)


@post(
    "/webhooks",
    sync_to_thread=True,
    tags=["webhooks"],
    response_headers=[
        ResponseHeader(name="Location", description="the subscription", documentation_only=True)
    ],
    responses=_problems(404, 413, 422),
)
def subscribe(
    data: JSONBody[WebhookIn], service: NamedDependency[Service], portal: NamedDependency[Portal]
) -> Response[WebhookOut]:
    """Subscribe a URL to the portal's events and reminders, from now on; the answer holds
    the signing secret, once."""
    url = data.url
    parts = urlsplit(url) if len(url) <= 2000 and url.isprintable() else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _Refusal(
            422,
            "invalid-webhook",
            "Not a webhook URL",
            "url must be an http:// or https:// URL with a host, at most 2,000 characters",
        )
    kinds = tuple(dict.fromkeys(data.kinds))
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        got = ", ".join(map(repr, unknown)) or "none"
        raise _Refusal(
            422,
            "invalid-webhook",
            "Unknown webhook kinds",
            f"kinds take {', '.join(KINDS)}; got {got}",
        )
    if not 0 <= data.reminder_days <= 366:
        raise _Refusal(
            422, "invalid-webhook", "Reminder days out of range", "reminder_days is 0 to 366"
        )
    sub, secret = service.webhooks().subscribe(
        portal.name, url, kinds, data.reminder_days, service.clock()
    )
    return Response(
        _webhook_out(sub, secret), status_code=201, headers={"Location": f"/webhooks/{sub.id}"}
    )


@get("/webhooks", sync_to_thread=True, tags=["webhooks"], responses=_problems(404))
def list_webhooks(
    service: NamedDependency[Service], portal: NamedDependency[Portal]
) -> list[WebhookOut]:
    """The portal's subscriptions (secrets are not shown again)."""
    return [_webhook_out(s) for s in service.webhooks().subscriptions(portal.name)]


@delete(
    "/webhooks/{webhook_id:str}", sync_to_thread=True, tags=["webhooks"], responses=_problems(404)
)
def unsubscribe(
    webhook_id: FromPath[str], service: NamedDependency[Service], portal: NamedDependency[Portal]
) -> None:
    """End a subscription; what was queued for it is dropped."""
    if not service.webhooks().unsubscribe(portal.name, webhook_id):
        raise _Refusal(
            404,
            "no-such-webhook",
            "No such webhook",
            f"the portal has no subscription '{webhook_id[:100]}'",
        )


@get(
    "/webhooks/{webhook_id:str}/deliveries",
    sync_to_thread=True,
    tags=["webhooks"],
    responses=_problems(404),
)
def deliveries(
    webhook_id: FromPath[str],
    service: NamedDependency[Service],
    portal: NamedDependency[Portal],
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
) -> list[Attempt]:
    """Every attempt to deliver the subscription's messages, newest first."""
    outbox = service.webhooks()
    if webhook_id not in {s.id for s in outbox.subscriptions(portal.name)}:
        raise _Refusal(
            404,
            "no-such-webhook",
            "No such webhook",
            f"the portal has no subscription '{webhook_id[:100]}'",
        )
    return outbox.log(webhook_id, limit)


READS = [
    list_webhooks,
    deliveries,
    programme_calendar,
    participant_calendar,
    health,
    list_definitions,
    show_definition,
    definition_diagram,
    definition_page,
    list_programmes,
    get_programme,
    next_steps,
    programme_forecast,
    programme_events,
    programme_event,
    agenda,
    event_feed,
    export,
    replay_upload,
]
WRITES = [
    subscribe,
    unsubscribe,
    create_programme,
    append_event,
    append_batch,
    submit,
    fire,
    schedule,
    waive,
    join,
    claim,
    pay,
]


def create_app(
    store: Store | str | None = None,
    config: ServiceConfig | None = None,
    *,
    clock: Clock = _now,
    webhooks: str | Path | None = None,
    deliver_every: float | None = 1.0,
) -> Litestar:
    """The ASGI application over ``store`` (a Store, or a URL as ``--db`` takes); ``config``
    holds the portals and their tokens (``ServiceConfig.single(token)`` for one).

    ``webhooks`` is the outbox's SQLite file (None: no webhooks); while the application
    runs, the outbox makes a pass every ``deliver_every`` seconds (None: never, for a caller
    that runs :meth:`Outbox.run_once` itself)."""
    if config is None:
        raise PeerflowError("the service needs its portals: pass config=ServiceConfig(...)")
    opened = store if isinstance(store, Store) else open_store(store)
    outbox = Outbox(webhooks, opened) if webhooks is not None else None
    service = Service(opened, config, clock, outbox)
    from peerflow import __version__  # noqa: PLC0415

    tasks: list[asyncio.Task[None]] = []

    async def deliver_forever() -> None:
        assert outbox is not None and deliver_every is not None
        while True:
            try:
                await asyncio.to_thread(outbox.run_once, clock(), service.sees)
            except Exception:
                log.exception("webhook pass failed")
            await asyncio.sleep(deliver_every)

    def start_outbox() -> None:
        if outbox is not None and deliver_every is not None:
            tasks.append(asyncio.get_running_loop().create_task(deliver_forever()))

    async def stop_outbox() -> None:
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    app = Litestar(
        [
            Router("/", route_handlers=[*READS, *WRITES, *PAGES])
        ],  # one Router: OPTIONS lists every method
        on_startup=[start_outbox],
        on_shutdown=[stop_outbox],
        guards=[require_portal],
        before_request=before_handler,
        dependencies={
            "service": Provide(service_of, sync_to_thread=False),
            "portal": Provide(portal_of, sync_to_thread=False),
        },
        exception_handlers={
            HTTPException: on_http_error,
            PeerflowError: on_peerflow_error,
            Exception: on_unexpected,
        },
        compression_config=CompressionConfig(backend="gzip", minimum_size=1000),
        request_max_body_size=MAX_BODY,
        openapi_config=OpenAPIConfig(
            title="peerflow",
            version=__version__,
            description="Peer-learning programmes as declarative state machines, over HTTP.",
            path=OPENAPI_PATH,
            render_plugins=[],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}],
        ),
        debug=False,
    )
    app.state.service = service
    app.state.forecasts = Forecasts()  # the web page's, by programme, version and minute
    _add_links(app)
    app.state.methods, app.state.queries = _methods_and_queries(app)
    return app


PROGRAMME_LINKS = {
    "GetProgramme": "ProgrammesProgrammeIdGetProgramme",
    "NextSteps": "ProgrammesProgrammeIdNextNextSteps",
    "Events": "ProgrammesProgrammeIdEventsProgrammeEvents",
    "Submit": "ProgrammesProgrammeIdSubmissionsSubmit",
    "Fire": "ProgrammesProgrammeIdStepsFire",
    "Schedule": "ProgrammesProgrammeIdDatesSchedule",
    "Join": "ProgrammesProgrammeIdJoinsJoin",
    "Calendar": "ProgrammesProgrammeIdCalendarIcsProgrammeCalendar",
}
WEBHOOK_LINKS = {
    "Deliveries": "WebhooksWebhookIdDeliveriesDeliveries",
    "Unsubscribe": "WebhooksWebhookIdUnsubscribe",
}


def _add_links(app: Litestar) -> None:
    """OpenAPI links from each write to what a client does next with its answer (read the
    programme it wrote, take the next step): a client generator follows them, and so does
    schemathesis's stateful run."""
    document = app.openapi_schema
    for item in (document.paths or {}).values():
        operation = item.post
        answer = (operation.responses or {}).get("201") if operation is not None else None
        if not isinstance(answer, OpenAPIResponse) or not answer.content:
            continue
        schema = next(iter(answer.content.values())).schema
        name = getattr(schema, "ref", "") or ""
        if name.endswith("/ProgrammeOut"):
            answer.links = {
                link: Link(
                    operation_id=target, parameters={"programme_id": "$response.body#/programme"}
                )
                for link, target in PROGRAMME_LINKS.items()
            }
        elif name.endswith("/WebhookOut"):
            answer.links = {
                link: Link(operation_id=target, parameters={"webhook_id": "$response.body#/id"})
                for link, target in WEBHOOK_LINKS.items()
            }


def _plain_path(path: str) -> str:
    """``/programmes/{programme_id:str}`` as OpenAPI writes it: ``/programmes/{programme_id}``."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def _methods_and_queries(app: Litestar) -> tuple[dict[str, tuple[str, ...]], dict[str, set[str]]]:
    """Each path's methods, and each handler's query parameters, as the OpenAPI document
    declares them: the one place both are written down."""
    methods = {
        _plain_path(route.path): tuple(sorted(map(str, route.methods))) for route in app.routes
    }
    document = app.openapi_schema.to_schema()
    declared: dict[tuple[str, str], set[str]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared[(path, method.upper())] = {
                p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"
            }
    queries = {}
    for handler in [*READS, *WRITES]:
        for path in handler.paths:
            plain = _plain_path(path)
            for method in handler.http_methods:
                queries[handler.handler_name] = declared.get((plain, method), set())
    return methods, queries
