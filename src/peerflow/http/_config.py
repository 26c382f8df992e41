"""Who may call the service: one bearer token per portal, each scoped to its programmes.

The portal authenticates its own users; the service authenticates the portal. A token is
read from the configuration file or, better, from an environment variable the file names,
never from a URL (URLs end up in logs). A portal sees and writes only the programmes whose id
starts with its ``programmes`` prefix (all of them when the prefix is empty).
"""

from __future__ import annotations

import hmac
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from peerflow._errors import PeerflowError
from peerflow.events._envelope import id_problem

MIN_TOKEN_LENGTH = 24
"""A shorter token is refused: a guessable token is no authentication."""


class ConfigError(PeerflowError, ValueError):
    """The service's configuration is unusable; the message names the file and the field."""


@attrs.frozen
class Portal:
    """A caller of the service: a name for logs and a token (never shown in its repr)."""

    name: str
    token: str = attrs.field(repr=False)
    programmes: str = ""
    """The prefix of the programme ids this portal may see and write ("" = every one)."""

    def sees(self, programme: str) -> bool:
        return programme.startswith(self.programmes)


@attrs.frozen
class ServiceConfig:
    """The portals the service answers."""

    portals: tuple[Portal, ...]

    def portal_for(self, token: str) -> Portal | None:
        """The portal holding ``token``; every token is compared in constant time, so the
        time taken says nothing of how close a guess was or which portal it matched."""
        found = None
        given = token.encode("utf-8", "surrogateescape")
        for portal in self.portals:
            if hmac.compare_digest(given, portal.token.encode("utf-8", "surrogateescape")):
                found = portal
        return found

    @classmethod
    def single(cls, token: str, name: str = "default") -> ServiceConfig:
        """One portal that sees every programme (``PEERFLOW_TOKEN``, or a token made at start)."""
        return cls((_portal({"name": name, "token": token}, "PEERFLOW_TOKEN", 0),))


def new_token() -> str:
    """A token for a service started without one (printed once, at start)."""
    return secrets.token_urlsafe(32)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """Read a TOML file of portals::

    [[portal]]
    name = "city-network"
    token_env = "CITY_NETWORK_TOKEN"   # the token is in this environment variable
    programmes = "city-"              # optional: the programme ids it may see
    """
    environ = os.environ if environ is None else environ
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the configuration: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not TOML: {exc}") from None
    unknown = sorted(set(data) - {"portal"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} (expected [[portal]] tables)")
    tables = data.get("portal")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{where}: no [[portal]] table: the service would answer nobody")
    portals = []
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: portal[{index}] must be a table")
        portals.append(_portal(table, where, index, environ))
    names = [p.name for p in portals]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: portal name(s) {twice} appear more than once")
    tokens = [p.token for p in portals]
    if len(set(tokens)) != len(tokens):
        raise ConfigError(f"{where}: two portals share a token: each portal needs its own")
    return ServiceConfig(tuple(portals))


def _portal(
    table: dict[str, Any], where: str, index: int, environ: Mapping[str, str] | None = None
) -> Portal:
    field = f"{where}: portal[{index}]"
    unknown = sorted(set(table) - {"name", "token", "token_env", "programmes"})
    if unknown:
        raise ConfigError(
            f"{field}: unknown key(s) {unknown} (expected name, token_env or token, programmes)"
        )
    name = table.get("name")
    problem = id_problem(name)
    if problem is not None:
        raise ConfigError(f"{field}.name {problem}")
    if ("token" in table) == ("token_env" in table):
        raise ConfigError(f"{field}: give exactly one of token_env (better) or token")
    if "token_env" in table:
        variable = table["token_env"]
        value = (environ or {}).get(variable) if isinstance(variable, str) else None
        if value is None:
            raise ConfigError(
                f"{field}.token_env: the environment variable {variable!r} is not set"
            )
    else:
        value = table["token"]
    if not isinstance(value, str) or len(value) < MIN_TOKEN_LENGTH or not value.isprintable():
        raise ConfigError(
            f"{field}: the token must be at least {MIN_TOKEN_LENGTH} printable characters "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if any(c.isspace() for c in value):
        raise ConfigError(f"{field}: the token must not hold white space")
    prefix = table.get("programmes", "")
    if not isinstance(prefix, str) or not prefix.isprintable():
        raise ConfigError(f"{field}.programmes must be a text prefix of programme ids")
    return Portal(str(name), value, prefix)
