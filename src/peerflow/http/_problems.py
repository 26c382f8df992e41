"""Errors as RFC 9457 problem details, each with a stable ``type`` a portal can switch on.

Every refusal is one JSON object of media type ``application/problem+json``: ``type``,
``title``, ``status``, ``detail`` (one line for a person), and the structured fields of the
error (a blocked step carries its blockers, as ``peerflow next`` shows them). Nothing from
inside a dependency leaks: an unexpected error is a 500 with no detail, logged in full.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from peerflow._errors import (
    EventError,
    StepBlocked,
    StepNotAvailable,
    UnknownDefinition,
)
from peerflow.store._backend import ConcurrencyError, EventIdTaken, NoSuchProgramme, StoreError

PROBLEM_JSON = "application/problem+json"
_TYPE = "urn:peerflow:problem:"

log = logging.getLogger("peerflow.http")


@attrs.frozen
class ProblemOut:
    """An RFC 9457 problem. ``type`` is ``urn:peerflow:problem:NAME`` (docs/http.md lists
    them); the other members appear where they apply."""

    type: str
    title: str
    status: int
    detail: str
    blockers: list[dict[str, Any]] | None = None
    step: str | None = None
    state: str | None = None
    available: list[str] | None = None
    waivable_by: list[str] | None = None
    seq: int | None = None
    programme: str | None = None
    current_next_seq: int | None = None
    errors: list[dict[str, Any]] | None = None


class _Refusal(HTTPException):
    """A refusal the service makes itself (a bad header, a scope, a size)."""

    def __init__(
        self,
        status: int,
        name: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.name, self.title, self.fields = name, title, fields


def problem_response(
    status: int,
    name: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Response[dict[str, Any]]:
    body = {"type": _TYPE + name, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in fields.items() if v is not None})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def on_peerflow_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The library's errors, by type (most specific first)."""
    if isinstance(exc, StepBlocked):
        return problem_response(
            409,
            "step-blocked",
            "The step is not allowed now",
            _one_line(str(exc)),
            step=exc.step,
            blockers=[b.to_dict() for b in exc.blockers],
            waivable_by=list(exc.waivable_by),
            seq=exc.seq,
        )
    if isinstance(exc, StepNotAvailable):
        return problem_response(
            409,
            "step-not-available",
            "No such step from the programme's state",
            _one_line(str(exc)),
            step=exc.step,
            state=exc.state,
            available=list(exc.available),
            seq=exc.seq,
        )
    if isinstance(exc, EventError):
        return problem_response(
            422, "event-refused", "The event was refused", _one_line(str(exc)), seq=exc.seq
        )
    if isinstance(exc, NoSuchProgramme):
        return problem_response(
            404,
            "no-such-programme",
            "No such programme",
            _one_line(str(exc)),
            programme=exc.programme,
        )
    if isinstance(exc, ConcurrencyError):
        version = {"ETag": f'"{exc.current}"'}
        if exc.expected == 0 and "if-match" not in request.headers:
            return problem_response(
                409,
                "programme-exists",
                "The programme exists already",
                _one_line(str(exc)),
                version,
                programme=exc.programme,
                current_next_seq=exc.current,
            )
        return problem_response(
            412,
            "version-mismatch",
            "Another write came first",
            _one_line(str(exc)),
            version,
            programme=exc.programme,
            current_next_seq=exc.current,
        )
    if isinstance(exc, EventIdTaken):
        return problem_response(
            409,
            "idempotency-key-reused",
            "The Idempotency-Key names another write",
            _one_line(str(exc)),
        )
    if isinstance(exc, UnknownDefinition):
        return problem_response(
            422, "unknown-definition", "No such definition", _one_line(str(exc))
        )
    if isinstance(exc, StoreError):
        return problem_response(422, "store-refused", "The store refused", _one_line(str(exc)))
    return on_unexpected(request, exc)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The framework's own refusals (no route, a body that does not fit, a missing token)."""
    if isinstance(exc, _Refusal):
        return problem_response(
            exc.status_code,
            exc.name,
            exc.title,
            _one_line(exc.detail),
            exc.headers,
            **exc.fields,
        )
    if isinstance(exc, ValidationException):
        errors = exc.extra if isinstance(exc.extra, list) else None
        return problem_response(
            400,
            "invalid-request",
            "The request does not fit the API",
            _validation_detail(errors, exc.detail),
            errors=errors,
        )
    status = exc.status_code
    if status >= 500:
        return on_unexpected(request, exc)
    name = {
        401: "unauthorized",
        404: "not-found",
        405: "method-not-allowed",
        413: "too-large",
        415: "unsupported-media-type",
    }.get(status, "http-error")
    return problem_response(
        status, name, exc.detail or "HTTP error", _one_line(exc.detail), exc.headers
    )


def _validation_detail(errors: list[dict[str, Any]] | None, fallback: str) -> str:
    if not errors:
        return _one_line(fallback)
    first = errors[0]
    where = ".".join(str(x) for x in (first.get("source"), first.get("key")) if x)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _one_line(f"{where}: {first.get('message', 'invalid')}{more}")


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500, "internal", "Internal error", "the service failed; its log says why"
    )
