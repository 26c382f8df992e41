"""Who is using the web page: a participant the portal vouches for, by a signed link.

The trust model is the API's: the portal authenticates its own users; the service trusts the
portal. A portal that wants to send a facilitator (or any participant) to the page makes a
link signed with its own token, naming the participant and when the link expires::

    from peerflow.http import sign_in_link
    url = sign_in_link("https://flow.example.org", portal, "anna", expires=now + timedelta(hours=8))

Opening it sets a cookie holding the same signed statement (HttpOnly, SameSite=Strict, scoped
to ``/ui``); every request checks the signature again, so a changed token or an expiry ends
the session, and no session is kept on the server. Forms carry a second signature derived
from the first, so a page of another site cannot post them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

import attrs

from peerflow.events._envelope import id_problem
from peerflow.http._config import Portal, ServiceConfig

COOKIE = "peerflow_ui"
LONGEST = timedelta(days=7)
"""The longest a link may be valid: a portal signs a user in again after that."""


@attrs.frozen
class Visitor:
    """A participant the portal vouched for, until ``expires``."""

    portal: Portal
    participant: str
    expires: int
    signature: str

    @property
    def form_token(self) -> str:
        """What every form posts back: derived from the signature, unknown to other sites."""
        return _sign(self.portal.token, "form", self.signature)

    @property
    def cookie(self) -> str:
        text = f"{self.portal.name}\n{self.participant}\n{self.expires}\n{self.signature}"
        return base64.urlsafe_b64encode(text.encode()).decode()


def _sign(token: str, *parts: object) -> str:
    message = "\n".join(["peerflow-ui", *map(str, parts)]).encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Compared in constant time: the time taken says nothing of how close a guess was."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def sign_in_query(portal: Portal, participant: str, expires: datetime) -> dict[str, str]:
    """The query of a sign-in link (for a portal that builds its own URLs)."""
    problem = id_problem(participant)
    if problem is not None:
        raise ValueError(f"participant {problem}")
    if expires.tzinfo is None:
        raise ValueError("expires needs a time zone")
    stamp = int(expires.timestamp())
    return {
        "portal": portal.name,
        "participant": participant,
        "expires": str(stamp),
        "signature": _sign(portal.token, portal.name, participant, stamp),
    }


def sign_in_link(base_url: str, portal: Portal, participant: str, expires: datetime) -> str:
    """A link to the web page as ``participant``, vouched for by ``portal``, valid until
    ``expires`` (at most seven days from when it is opened)."""
    query = urlencode(sign_in_query(portal, participant, expires))
    return f"{base_url.rstrip('/')}/ui/sign-in?{query}"


def check(
    config: ServiceConfig,
    portal_name: str,
    participant: str,
    expires: str,
    signature: str,
    now: datetime,
) -> Visitor | str:
    """The visitor a link or cookie names, or why it is refused (one line)."""
    portal = next((p for p in config.portals if p.name == portal_name), None)
    if portal is None or id_problem(participant) is not None or not expires.isdecimal():
        return "this sign-in link is not one the service made"
    expected = _sign(portal.token, portal.name, participant, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "this sign-in link is not one the service made"
    stamp = int(expires[:20])
    if stamp <= now.timestamp():
        return "this sign-in link has expired: ask the portal for a new one"
    if stamp > (now + LONGEST).timestamp():
        return "this sign-in link is valid for more than seven days: ask for a shorter one"
    return Visitor(portal, participant, stamp, signature)


def from_cookie(config: ServiceConfig, value: str, now: datetime) -> Visitor | None:
    """The visitor of a session cookie, if it still holds."""
    try:
        text = base64.urlsafe_b64decode(value.encode("ascii")[:2048]).decode()
    except (ValueError, UnicodeError):
        return None
    parts = text.split("\n")
    if len(parts) != 4:
        return None
    found = check(config, parts[0], parts[1], parts[2], parts[3], now)
    return found if isinstance(found, Visitor) else None
