"""Security headers on every response, error pages and 404s included (a ``before_send`` hook).

The Content-Security-Policy allows scripts, styles and everything else only from this site: no inline
script, no eval. htmx needs neither (`templates/base.html` turns off its inline indicator styles and
eval), and the templates have no inline script or style. Swagger UI, at /api/docs, starts itself with an
inline script Litestar writes: that one page (no user content on it) also allows inline script and style.

Staff pages and everything under /api/ that answers for a signed-in institution are not for shared
caches: staff pages get ``Cache-Control: no-store``.
"""

from __future__ import annotations

from litestar.types import Message, Scope

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'")
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PATH = "/api/docs"

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    # Browsers ignore it over plain HTTP (RFC 6797 s. 8.1), so it is safe to send from development too.
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # respondents' paths never leave the site in a Referer
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


async def add_security_headers(message: Message, scope: Scope) -> None:
    """`Litestar(before_send=...)`: runs for every response the app sends, routed or not (404s, errors)."""
    if message["type"] != "http.response.start":
        return
    path = scope.get("path", "")
    csp = DOCS_CSP if path in (DOCS_PATH, DOCS_PATH + "/") else CSP
    headers = list(message.get("headers") or [])
    present = {name.lower() for name, _value in headers}
    extra = [*HEADERS, (b"content-security-policy", csp.encode())]
    if path == "/staff" or path.startswith("/staff/"):
        # Replaces any caching the handler allowed: a staff page never sits in a cache.
        headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
        present.discard(b"cache-control")
        extra.append((b"cache-control", b"no-store"))
    headers.extend((name, value) for name, value in extra if name not in present)
    message["headers"] = headers
