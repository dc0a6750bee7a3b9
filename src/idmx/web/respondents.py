"""Anonymous respondents: a random token in a cookie; the database only ever sees its hash."""

from __future__ import annotations

import hashlib
import secrets

from litestar import Request, Response

COOKIE = "idmx_respondent"
MAX_AGE = 2 * 365 * 24 * 3600


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def token_from(request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    # A forged or truncated cookie is treated as no cookie at all.
    if token and 40 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return None


def ensure_token(request: Request) -> tuple[str, bool]:
    """The request's token, or a fresh one; the flag says whether the cookie must be set."""
    token = token_from(request)
    if token:
        return token, False
    return new_token(), True


def remember(response: Response, token: str, *, secure: bool) -> Response:
    response.set_cookie(COOKIE, token, max_age=MAX_AGE, httponly=True, samesite="lax", secure=secure, path="/")
    return response


def rate_limit_identity(request: Request) -> str:
    """Rate limits per respondent: the token's hash, or the client address for cookieless clients."""
    token = token_from(request)
    if token:
        return "r:" + hash_token(token)[:32]
    client = request.client
    return "ip:" + (client.host if client else "unknown")
