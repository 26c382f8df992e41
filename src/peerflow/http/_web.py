"""The facilitator's web page: the programmes of the store, and one programme with what it
waits for, what is due, when it can still finish, and forms to act in it.

Server-rendered HTML (Jinja templates, one stylesheet, no script), so it works on a phone, with
a keyboard and with a screen reader, and embeds in a portal as a link. Everything it shows is
the engine's: ``next_steps``, ``deadlines``, ``forecast``, the store's history. A form records
one event through the store exactly as the API does (the same payload builders, the same
``expected_next_seq`` against a stale page), acting as the participant the portal signed in
(``_signin``); a refused form shows the engine's blockers and records nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import jinja2
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery, QueryParameter
from markupsafe import Markup

from peerflow._errors import EventError, PeerflowError, StepBlocked
from peerflow.engine._blockers import Blocker
from peerflow.engine._commands import (
    claim_payload,
    fire_payload,
    join_payload,
    pay_payload,
    schedule_payload,
    submit_payload,
    waive_payload,
)
from peerflow.engine._content import complete_content
from peerflow.engine._forecast import Forecast
from peerflow.engine._registry import builtin_files, definition
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import Deadline, Step
from peerflow.events._envelope import Actor, Event, id_problem
from peerflow.http import _signin
from peerflow.http._problems import _Refusal
from peerflow.model._diagram import state_diagram
from peerflow.store._backend import ConcurrencyError, NoSuchProgramme

if TYPE_CHECKING:
    from peerflow.http._app import Service

TEMPLATES = Path(__file__).parent / "templates"
_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
MAX_FORM = 20_000
"""The largest form body (bytes): a submission's content and a reason fit many times over."""
MAX_ROWS = 500
"""The most programmes the list shows at once (a filter narrows it)."""
TIMELINE = 200
"""The most events a programme page lists, newest first (the API and export have them all)."""
_PUBLIC = {"public": True}  # the bearer-token guard leaves these to the cookie check here

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_CSS = (TEMPLATES / "peerflow.css").read_text(encoding="utf-8")

VERBS = {
    "fire": "step",
    "submit": "hand in",
    "schedule": "set a date",
    "join": "join",
    "claim": "claim costs",
    "pay": "reimburse",
}


def _page(template: str, status: int = 200, **context: Any) -> Response[str]:
    return Response(
        _env.get_template(template).render(**context),
        status_code=status,
        media_type=MediaType.HTML,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
            "form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


def _message(heading: str, text: str, status: int, visitor: Any = None) -> Response[str]:
    return _page("message.html", status, heading=heading, text=text, visitor=visitor)


def _service(request: Request[Any, Any, Any]) -> Service:
    service: Service = request.app.state.service
    return service


def _visitor(request: Request[Any, Any, Any]) -> _signin.Visitor | Response[str]:
    service = _service(request)
    value = request.cookies.get(_signin.COOKIE)
    found = (
        _signin.from_cookie(service.config, value, service.clock()) if value is not None else None
    )
    if found is None:
        return _message(
            "Sign in through your portal",
            "This page is opened with a sign-in link from your portal (or the one your "
            "session came from has expired).",
            401,
        )
    return found


def _by(moment: datetime, zone: str) -> str:
    """A moment something is due by, as people say it: a window that closes at midnight
    is open all of the day before ("by the end of 2027-02-15"), as the command line says."""
    local = moment.astimezone(ZoneInfo(zone))
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"the end of {(local - timedelta(days=1)):%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"


def _shown(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M}"


# --- public: the stylesheet and signing in -------------------------------------------------


@get(
    "/ui/peerflow.css",
    opt=_PUBLIC,
    include_in_schema=False,
    media_type="text/css",
    sync_to_thread=False,
)
def stylesheet() -> Response[str]:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@get("/ui/sign-in", opt=_PUBLIC, include_in_schema=False, sync_to_thread=False)
def sign_in(
    request: Request[Any, Any, Any],
    portal_name: Annotated[str, QueryParameter(name="portal")],
    participant: FromQuery[str],
    expires: FromQuery[str],
    signature: FromQuery[str],
) -> Response[str]:
    """Open a signed link: the portal vouches for ``participant`` until ``expires``."""
    service = _service(request)
    found = _signin.check(
        service.config,
        portal_name[:200],
        participant[:300],
        expires[:20],
        signature[:200],
        service.clock(),
    )
    if isinstance(found, str):
        return _message("This link does not sign you in", found, 403)
    response: Response[str] = Response(
        "", status_code=303, headers={"Location": "/ui/"}, media_type=MediaType.TEXT
    )
    response.set_cookie(
        Cookie(
            key=_signin.COOKIE,
            value=found.cookie,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            expires=found.expires,
        )
    )
    return response


# --- the list ------------------------------------------------------------------------------


def _waiting(st: ProgrammeState, deadlines: list[Deadline], steps: list[Step]) -> list[str]:
    """Who the programme waits for: those owing what is due, else the roles of its open
    steps."""
    names: dict[str, None] = {}
    for d in deadlines:
        if d.kind != "programme" and not d.advisory:
            names.update(dict.fromkeys(d.owed_by))
    if not names:
        for s in steps:
            if s.allowed:
                names.update(dict.fromkeys(s.roles))
    return list(names)


@get("/ui/", opt=_PUBLIC, include_in_schema=False, sync_to_thread=True)
def programme_list(
    request: Request[Any, Any, Any],
    definition_id: Annotated[str | None, QueryParameter(name="definition")] = None,
    in_state: Annotated[str | None, QueryParameter(name="state")] = None,
    q: FromQuery[str | None] = None,
    overdue: FromQuery[str | None] = None,
    mine: FromQuery[str | None] = None,
) -> Response[str]:
    """Every programme the portal sees, with its stage, whom it waits for and what is late."""
    visitor = _visitor(request)
    if isinstance(visitor, Response):
        return visitor
    service = _service(request)
    at = service.clock()
    rows: list[dict[str, Any]] = []
    cut = False
    text = (q or "")[:200]
    seen = sorted(
        (r for r in service.store.programmes() if visitor.portal.sees(r.programme)),
        key=lambda r: r.programme,
    )
    for row in seen:
        if text and text not in row.programme:
            continue
        if definition_id and row.definition != definition_id:
            continue
        if in_state and row.state != in_state:
            continue
        st = service.store.state(row.programme)
        if mine and st.role_of(visitor.participant) is None:
            continue
        d = st.definition
        due = d.deadlines(st, at)
        late = [x for x in due if x.overdue and not x.advisory]
        if overdue and not late:
            continue
        if len(rows) == MAX_ROWS:
            cut = True
            break
        ahead = sorted((x for x in due if not x.overdue and not x.advisory), key=lambda x: x.due_at)
        rows.append(
            {
                "programme": row.programme,
                "definition": d.type.title or d.id,
                "stage": d.type.states[st.state].title or st.state,
                "terminal": st.terminal,
                "waiting": _waiting(st, due, d.next_steps(st, at)),
                "overdue": [f"{x.title} (due by {_by(x.due_at, st.timezone)})" for x in late],
                "next_due": (
                    f"{ahead[0].title}, by {_by(ahead[0].due_at, st.timezone)}" if ahead else ""
                ),
            }
        )
    # the filters offer what the portal's programmes use (a definition from a file included)
    builtins = {name: definition(name).type for name in builtin_files()}
    used = sorted({r.definition for r in seen})
    stages = {
        (r.state, builtins[r.definition].states[r.state].title or r.state)
        if r.definition in builtins and r.state in builtins[r.definition].states
        else (r.state, r.state)
        for r in seen
    }
    return _page(
        "list.html",
        visitor=visitor,
        rows=rows,
        cut=cut,
        at=_shown(at, "UTC") + " UTC",
        definitions=[(name, builtins[name].title if name in builtins else name) for name in used],
        states=sorted(stages, key=lambda x: x[1]),
        filters={
            "definition": definition_id or "",
            "state": in_state or "",
            "q": text,
            "overdue": bool(overdue),
            "mine": bool(mine),
        },
    )


# --- one programme -------------------------------------------------------------------------


def _when(step: Step, zone: str) -> str:
    said = []
    if step.opens_at is not None:
        said.append(f"opens {_shown(step.opens_at, zone)}")
    if step.closes_at is not None:
        said.append(f"open until {_by(step.closes_at, zone)}")
    if step.advised_by is not None:
        said.append(f"advised by {_by(step.advised_by, zone)}")
    return "; ".join(said)


def _step_view(st: ProgrammeState, step: Step, role: str | None) -> dict[str, Any]:
    t = st.definition.type
    view: dict[str, Any] = {
        "kind": step.kind,
        "name": step.name,
        "title": step.title,
        "verb": VERBS.get(step.kind, step.kind),
        "allowed": step.allowed,
        "blockers": [b.describe() for b in step.blockers],
        "waivable": [(b.kind, b.describe()) for b in step.blockers if b.can_be_waived()],
        "when": _when(step, st.timezone),
        "button": {
            "fire": f"Record: {step.title}",
            "submit": f"Hand in: {step.title}",
            "schedule": f"Set: {step.title}",
            "join": f"Add the {step.name}",
            "claim": "Claim",
            "pay": "Record the payment",
        }.get(step.kind, step.title),
        "parts": "",
        "example": "",
    }
    if step.kind == "submit":
        parts = t.deliverables[step.name].content
        if parts:
            view["parts"] = ", ".join(parts)
            view["example"] = json.dumps(complete_content(st.definition, step.name))
    if step.kind == "claim" and t.budget is not None and role in t.budget.roles:
        items = t.budget.roles[role].items
        view["cost_items"] = [(name, item.title or name) for name, item in items.items()]
        view["currency"] = t.budget.currency
        view["bank_required"] = t.budget.bank_details_required
    return view


def _forecast_view(f: Forecast, zone: str) -> dict[str, Any]:
    headline = f.headline(lambda moment: _shown(moment, zone), due=lambda moment: _by(moment, zone))
    return {
        "feasible": f.feasible,
        "headline": headline,
        "assumption": "steps at window boundaries; dates not yet set assumed 35 days ahead",
        "steps": [
            {
                "title": s.title,
                "critical": s.critical,
                "earliest": _shown(s.earliest, zone),
                "latest": _shown(s.latest, zone),
                "closes": _by(s.closes_at, zone) if s.closes_at else "",
            }
            for s in f.steps
        ],
    }


class Forecasts:
    """The forecasts the page made lately, by programme, version and minute: a forecast of a
    large programme takes a second or more, and a page reloaded (or reloaded on purpose, again
    and again) does not search again within the minute. Shared by the worker threads."""

    KEPT = 256

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, int, str, datetime], Forecast] = OrderedDict()
        self._lock = threading.Lock()

    def at(self, st: ProgrammeState, at: datetime) -> Forecast:
        """The forecast at the start of the minute ``at`` falls in."""
        minute = max(at.replace(second=0, microsecond=0), st.last_at)
        key = (st.programme, st.next_seq, st.definition.digest, minute)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = st.definition.forecast(st, minute)  # outside the lock: others go on
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self.KEPT:
                self._kept.popitem(last=False)
        return found


def _forecast(request: Request[Any, Any, Any], st: ProgrammeState, at: datetime) -> Forecast:
    forecasts: Forecasts = request.app.state.forecasts
    return forecasts.at(st, at)


def _what(event: Event, st: ProgrammeState) -> str:
    d = st.definition
    p = event.payload
    if event.type == "start":
        return f"started {d.type.title or d.id}"
    if event.type == "fire":
        name = str(p.get("event"))
        return f"took the step: {d.step_titles.get(('fire', name)) or name}"
    if event.type == "submit":
        name = str(p.get("deliverable"))
        return f"handed in {d.step_titles.get(('submit', name)) or name}"
    if event.type == "schedule":
        name = str(p.get("date"))
        return f"set {d.step_titles.get(('schedule', name)) or name} to {p.get('value')}"
    if event.type == "waive":
        step = p.get("step")
        target = step.get("name") if isinstance(step, dict) else step
        lifted = ", ".join(map(str, p.get("blockers", [])))
        return f"waived {lifted} on {target}: {p.get('reason')}"
    if event.type == "join":
        return f"added {p.get('participant')} as {p.get('role')}"
    if event.type == "claim":
        return "claimed costs"
    if event.type == "pay":
        return f"paid claim {p.get('claim')}"
    return event.type


def _programme_page(
    request: Request[Any, Any, Any],
    visitor: _signin.Visitor,
    programme: str,
    *,
    notice: str = "",
    problem: dict[str, Any] | None = None,
    status: int = 200,
) -> Response[str]:
    service = _service(request)
    if id_problem(programme) is not None or not visitor.portal.sees(programme):
        return _message("No such programme", f"no programme '{programme[:100]}'", 404, visitor)
    try:
        st = service.store.state(programme)
    except NoSuchProgramme:
        return _message("No such programme", f"no programme '{programme[:100]}'", 404, visitor)
    d = st.definition
    t = d.type
    at = max(service.clock(), st.last_at)
    role = st.role_of(visitor.participant)
    actor = Actor(role, visitor.participant) if role is not None else None
    steps = d.next_steps(st, at, actor, participation=True)
    # the newest events only: a long history would make a page nobody reads to the end
    shown_from = max(0, st.next_seq - TIMELINE)
    events = service.store.events(programme, shown_from)
    return _page(
        "programme.html",
        status,
        visitor=visitor,
        form_token=visitor.form_token,
        notice=notice,
        problem=problem,
        p={
            "programme": st.programme,
            "definition": f"{t.title or t.id} (v{t.version})",
            "stage": t.states[st.state].title or st.state,
            "terminal": st.terminal,
            "next_seq": st.next_seq,
            "at": _shown(at, st.timezone) + f" ({st.timezone})",
        },
        me=None if role is None else {"role_title": t.roles[role].title or role},
        may_waive=role in t.waivable_by,
        steps=[_step_view(st, s, role) for s in steps],
        deadlines=[
            {
                "title": x.title,
                "due": _by(x.due_at, st.timezone),
                "overdue": x.overdue,
                "advisory": x.advisory,
                "owed_by": list(x.owed_by),
            }
            for x in d.deadlines(st, at)
        ],
        forecast=_forecast_view(_forecast(request, st, at), st.timezone),
        diagram=Markup(state_diagram(t, st.state)),
        timeline=[
            {
                "iso": e.at.isoformat(),
                "at": _shown(e.at, st.timezone),
                "who": f"{e.actor.id} ({e.actor.role})",
                "what": _what(e, st),
            }
            for e in reversed(events)
        ],
        earlier=shown_from,
        participants=[(pid, t.roles[r].title or r) for pid, r in st.members()],
    )


@get("/ui/programmes/{programme_id:str}", opt=_PUBLIC, include_in_schema=False, sync_to_thread=True)
def programme_view(
    request: Request[Any, Any, Any],
    programme_id: FromPath[str],
    done: FromQuery[str | None] = None,
) -> Response[str]:
    """One programme: next steps with forms, deadlines, the forecast, diagram and timeline."""
    visitor = _visitor(request)
    if isinstance(visitor, Response):
        return visitor
    notice = ""
    if done is not None and done.isdecimal() and len(done) < 12:
        notice = f"Recorded as event {int(done)}."
    return _programme_page(request, visitor, programme_id, notice=notice)


# --- acting through a form -----------------------------------------------------------------


class _FormProblem(Exception):
    """A field of the form is missing or malformed: said in one line."""


def _one(form: dict[str, list[str]], name: str, required: bool = True) -> str | None:
    values = form.get(name, [])
    if len(values) > 1:
        raise _FormProblem(f"the field '{name}' is given more than once")
    value = values[0].strip() if values else ""
    if not value:
        if required:
            raise _FormProblem(f"the field '{name}' is empty")
        return None
    return value


def _amount(text: str | None, field: str) -> str | None:
    """Money as the form's pattern says: whole units and at most two decimals ("92.50")."""
    if text is None:
        return None
    if not _AMOUNT.fullmatch(text):
        raise _FormProblem(f"{field} is not an amount (write 92.50)")
    return text


def _count(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    if not text.isdecimal() or len(text) > 4:
        raise _FormProblem(f"{field} is a whole number of days (0 to 366)")
    return int(text)


def _payload(form: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """The event a form asks for, built as the API builds it."""
    kind = _one(form, "kind")
    name = _one(form, "name")
    assert kind is not None and name is not None
    if kind == "fire":
        return "fire", fire_payload(name)
    if kind == "submit":
        content_text = _one(form, "content", required=False)
        content = None
        if content_text is not None:
            try:
                content = json.loads(content_text)
            except ValueError:
                raise _FormProblem("the content is not JSON (see the example given)") from None
        return "submit", submit_payload(name, _one(form, "ref", required=False), content)
    if kind == "schedule":
        value = _one(form, "value")
        assert value is not None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise _FormProblem("the date is not a date (write 2027-03-15)") from None
        return "schedule", schedule_payload(name, day)
    if kind == "join":
        participant = _one(form, "participant")
        assert participant is not None
        return "join", join_payload(participant, name)
    if kind == "claim":
        item: dict[str, Any] = {
            "item": _one(form, "item"),
            "amount": _amount(_one(form, "amount"), "amount"),
        }
        receipts = [r.strip() for r in (_one(form, "receipts", False) or "").split(",")]
        if any(receipts):
            item["receipts"] = [r for r in receipts if r]
        for field in ("days", "nights"):
            counted = _count(_one(form, field, required=False), field)
            if counted is not None:
                item[field] = counted
        return "claim", claim_payload(
            [item],
            invoice_date=_one(form, "invoice_date", required=False),
            bank_details=_one(form, "bank_details", required=False),
        )
    if kind == "pay":
        return "pay", pay_payload(name, _amount(_one(form, "amount", required=False), "amount"))
    if kind == "waive":
        step_kind = _one(form, "step_kind")
        reason = _one(form, "reason")
        assert step_kind is not None and reason is not None
        blockers = form.get("blockers", [])
        if not blockers:
            raise _FormProblem("tick at least one blocker to lift")
        return "waive", waive_payload(step_kind, name, blockers, reason, None)
    raise _FormProblem(f"no such kind of step: '{kind[:50]}'")


def _refusal(exc: PeerflowError) -> tuple[dict[str, Any], int]:
    if isinstance(exc, StepBlocked):
        blockers: tuple[Blocker, ...] = exc.blockers
        return {
            "title": "That step is not allowed now",
            "detail": f"'{exc.step}' is blocked:",
            "blockers": [b.describe() for b in blockers],
        }, 409
    if isinstance(exc, ConcurrencyError):
        return {
            "title": "The programme changed while the page was open",
            "detail": "Someone recorded a step first. The page now shows the programme as "
            "it stands: check it and try again.",
            "blockers": [],
        }, 412
    if isinstance(exc, EventError):
        return {"title": "The step was refused", "detail": str(exc), "blockers": []}, 422
    return {"title": "The step was refused", "detail": str(exc), "blockers": []}, 422


@post(
    "/ui/programmes/{programme_id:str}/record",
    opt=_PUBLIC,
    include_in_schema=False,
    status_code=303,
)
async def programme_record(
    request: Request[Any, Any, Any], programme_id: FromPath[str]
) -> Response[str]:
    """Record one event from a form, as the signed-in participant; refused, the page shows why
    and nothing is recorded."""
    visitor = _visitor(request)
    if isinstance(visitor, Response):
        return visitor
    body = await request.body()
    if len(body) > MAX_FORM:
        return _message("The form is too large", f"at most {MAX_FORM:,} bytes", 413, visitor)
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return _message("The form could not be read", "the form is not one of this page's", 400)
    token = form.get("token", [""])
    if len(token) != 1 or not _signin.same(token[0], visitor.form_token):
        return _message(
            "The form could not be checked",
            "this form was not sent from this page (reload the page and try again)",
            403,
            visitor,
        )
    return await asyncio.to_thread(_record, request, visitor, programme_id, form)


def _record(
    request: Request[Any, Any, Any],
    visitor: _signin.Visitor,
    programme: str,
    form: dict[str, list[str]],
) -> Response[str]:
    service = _service(request)
    if id_problem(programme) is not None or not visitor.portal.sees(programme):
        return _message("No such programme", f"no programme '{programme[:100]}'", 404, visitor)
    seq_text = (form.get("seq") or [""])[0]
    expected = int(seq_text) if seq_text.isdecimal() and len(seq_text) < 12 else None
    try:
        st = service.store.state(programme)
        kind, payload = _payload(form)
        actor = service.acting(st, visitor.participant, kind, payload)
        after = service.store.record(
            programme,
            kind,
            payload,
            at=max(service.clock(), st.last_at),
            actor=actor,
            expected_next_seq=expected,
        )
    except NoSuchProgramme:
        return _message("No such programme", f"no programme '{programme[:100]}'", 404, visitor)
    except _FormProblem as exc:
        problem = {"title": "The form is not complete", "detail": str(exc), "blockers": []}
        return _programme_page(request, visitor, programme, problem=problem, status=422)
    except PeerflowError as exc:
        problem, status = _refusal(exc)
        return _programme_page(request, visitor, programme, problem=problem, status=status)
    except _Refusal as exc:  # the API's own refusal (a stranger acting), said on the page
        problem = {"title": "The step was refused", "detail": exc.detail, "blockers": []}
        return _programme_page(request, visitor, programme, problem=problem, status=exc.status_code)
    location = f"/ui/programmes/{quote(programme, safe='')}?done={after.next_seq - 1}#notice"
    return Response("", status_code=303, headers={"Location": location})


PAGES: list[Callable[..., Any]] = [
    stylesheet,
    sign_in,
    programme_list,
    programme_view,
    programme_record,
]
