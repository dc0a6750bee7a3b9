"""CSRF protection with the token masked afresh in every answer, so that pages can be compressed (BREACH).

Litestar's middleware keeps one token per browser (the ``idmx_csrf`` cookie) and writes that same token
into every page it renders (`csrf_input`, `csrf_token()`). A compressed page that repeats a fixed secret
leaks it through its size to someone who can make the browser load pages reflecting text of their choice
and watch the encrypted sizes (BREACH). Masking, as Django does: each answer carries
``mask + (token XOR mask)`` with a fresh random mask, so no two pages repeat the same bytes, while the
cookie keeps the token itself. The check unmasks what the form or the ``x-csrftoken`` header sent and
compares it with the cookie as Litestar does (HMAC-signed tokens, constant-time comparison); the bare
token is still accepted (a script that copies the cookie into the header).

`MaskedCSRFMiddleware` replaces the one `csrf_config` would install (Litestar has no hook for this), so
the app passes its `CSRFConfig` here instead.
"""

from __future__ import annotations

import secrets

from litestar.config.csrf import CSRFConfig
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, CSRFMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

__all__ = ["MaskedCSRFMiddleware", "mask", "unmask"]

_TOKEN_HEX = 2 * CSRF_SECRET_LENGTH  # secret (64 hex) + its HMAC-SHA256 (64 hex)


def mask(token: str) -> str:
    """``token`` (hex) as a fresh mask followed by the token XOR the mask, both hex."""
    raw = bytes.fromhex(token)
    pad = secrets.token_bytes(len(raw))
    return pad.hex() + bytes(a ^ b for a, b in zip(raw, pad)).hex()


def unmask(sent: str) -> str:
    """The token inside a masked one; anything else as it came (the signature check then decides)."""
    if len(sent) != 2 * _TOKEN_HEX:
        return sent
    try:
        pad, hidden = bytes.fromhex(sent[:_TOKEN_HEX]), bytes.fromhex(sent[_TOKEN_HEX:])
    except ValueError:
        return sent
    return bytes(a ^ b for a, b in zip(hidden, pad)).hex()


class _MaskRendered:
    """Between the CSRF check and the handler: what templates render is the token masked afresh."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = ScopeState.from_scope(scope)
        token = state.csrf_token
        if isinstance(token, str) and token:
            try:
                state.csrf_token = mask(unmask(token))
            except ValueError:  # not hex: nothing sensible to mask (the check refused it already)
                pass
        await self.app(scope, receive, send)


class MaskedCSRFMiddleware(CSRFMiddleware):
    def __init__(self, app: ASGIApp, config: CSRFConfig) -> None:
        super().__init__(app=_MaskRendered(app), config=config)

    def _csrf_tokens_match(self, request_csrf_token: str, cookie_csrf_token: str) -> bool:
        return super()._csrf_tokens_match(unmask(request_csrf_token), cookie_csrf_token)
