"""Anonymous respondents: an identity the server issues and signs, kept in a cookie.

The cookie is ``<token>.<signature>``: 256 random bits and an HMAC of them under a key derived from
IDMX_SECRET_KEY. Only the server can mint one, so a script cannot invent respondents offline: a cookie
the server did not sign (or signed with a key no longer accepted) is not a respondent, and the visitor
gets a fresh identity instead. The database only ever sees the token's SHA-256 (`Identity.hash`).

Rotating the key: put the old one in IDMX_PREVIOUS_SECRET_KEYS. Cookies signed with it are still
accepted and re-signed with the current key on the next response, so respondents keep their identity.

A script can still ask the server for many identities; `client_keys` gives the keyed hashes of the
client's address and network (IPv4 /24, IPv6 /48) under which new respondents are counted, so bursts
are flagged (`idmx.consultations.services.note_new_respondent`), never silently trusted, and never
refused: carrier NAT and university labs put thousands of real people behind one address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from litestar import Request, Response

from idmx.settings import Settings
from idmx.web.proxy import request_address

COOKIE = "idmx_respondent"
MAX_AGE = 2 * 365 * 24 * 3600
_PURPOSE = b"idmx respondent identity v1"
_SIGNATURE_CHARS = 27  # 160 bits of HMAC-SHA256, base64url


@dataclass(frozen=True)
class Identity:
    token: str  # the random part; its hash is the respondent's key
    cookie: str | None  # the cookie to set on the response (a new identity, or one re-signed), else None

    @property
    def hash(self) -> str:
        return hash_token(self.token)

    @property
    def new(self) -> bool:
        return self.cookie is not None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _keys(settings: Settings) -> list[bytes]:
    secrets_ = [settings.secret_key, *settings.previous_secret_keys]
    return [hmac.new(s.encode(), _PURPOSE, hashlib.sha256).digest() for s in secrets_]


def _signature(key: bytes, token: str) -> str:
    mac = hmac.new(key, token.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii")[:_SIGNATURE_CHARS]


def sign(settings: Settings, token: str) -> str:
    return f"{token}.{_signature(_keys(settings)[0], token)}"


def _verified(settings: Settings, cookie: str | None) -> tuple[str | None, bool]:
    """The token of a cookie this server signed, and whether it needs the current key's signature."""
    if not cookie or len(cookie) > 120 or cookie.count(".") != 1:
        return None, False
    token, signature = cookie.split(".")
    if not (40 <= len(token) <= 64 and token.isascii() and token.replace("-", "").replace("_", "").isalnum()):
        return None, False
    for i, key in enumerate(_keys(settings)):
        if hmac.compare_digest(_signature(key, token), signature):
            return token, i > 0
    return None, False


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def token_from(request: Request) -> str | None:
    """The respondent's token when the request carries a cookie this server signed, else None."""
    return _verified(_settings(request), request.cookies.get(COOKIE))[0]


def identify(request: Request) -> Identity:
    """The request's respondent identity, or a fresh one (then `cookie` must be set on the answer)."""
    settings = _settings(request)
    token, resign = _verified(settings, request.cookies.get(COOKIE))
    if token is None:
        token = secrets.token_urlsafe(32)
        return Identity(token, sign(settings, token))
    return Identity(token, sign(settings, token) if resign else None)


def remember(response: Response, identity: Identity, *, secure: bool) -> Response:
    if identity.cookie is not None:
        response.set_cookie(COOKIE, identity.cookie, max_age=MAX_AGE, httponly=True, samesite="lax", secure=secure,
                            path="/")
    return response


def client_keys(request: Request) -> tuple[str, str]:
    """Keyed hashes of the client's address and of its network (IPv4 /24, IPv6 /48): what bursts of new
    respondents are counted under, without keeping the address itself anywhere."""
    address = request_address(request)  # behind a trusted proxy: the client, not the proxy
    try:
        ip = ipaddress.ip_address(address)
        network = str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))
    except ValueError:
        network = address
    key = _keys(_settings(request))[0]
    return (hmac.new(key, f"addr:{address}".encode(), hashlib.sha256).hexdigest()[:32],
            hmac.new(key, f"net:{network}".encode(), hashlib.sha256).hexdigest()[:32])


def rate_limit_identity(request: Request) -> str:
    """Rate limits per respondent: the token's hash, or the client address for requests without a cookie
    this server signed."""
    token = token_from(request)
    if token:
        return "r:" + hash_token(token)[:32]
    return "a:" + client_keys(request)[0]
