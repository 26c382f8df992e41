"""The HTTP service: ``peerflow serve``, for portals written in any language.

Owns the ASGI application (Litestar) over the store: definitions, programmes, events, next
steps with their blockers, the agenda and replay as resources; errors as RFC 9457 problem
details; the store's guarantees as HTTP conventions (ETag and If-Match, Idempotency-Key);
bearer tokens, one per portal, each scoped to the programmes it may see. The facilitator's web
page (``/ui/``) opens with a link a portal signs (``sign_in_link``). Needs the ``server`` extra
(``pip install 'peerflow[server]'``).

May import: ``peerflow._ics``, ``peerflow.replay``, ``peerflow.store``, ``peerflow.engine``,
``peerflow.model``, ``peerflow.events``, ``peerflow._errors``, ``peerflow._bulk``,
``peerflow._lazy``.
"""

from peerflow._lazy import lazy_names as _lazy_names

_TYPE_CHECKING = False  # True for mypy (always_true in pyproject.toml)

if _TYPE_CHECKING:
    from peerflow.http._app import create_app
    from peerflow.http._config import ConfigError, Portal, ServiceConfig, load_config
    from peerflow.http._signin import sign_in_link

_NAMES = {
    "ConfigError": "peerflow.http._config",
    "Portal": "peerflow.http._config",
    "ServiceConfig": "peerflow.http._config",
    "create_app": "peerflow.http._app",
    "load_config": "peerflow.http._config",
    "sign_in_link": "peerflow.http._signin",
}

__all__ = ["ConfigError", "Portal", "ServiceConfig", "create_app", "load_config", "sign_in_link"]

__getattr__, __dir__ = _lazy_names(__name__, _NAMES, __all__)
