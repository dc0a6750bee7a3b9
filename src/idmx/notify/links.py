"""Links inside e-mails: absolute addresses and the follower's unsubscribe token.

Messages are written in the transaction of the change they report (`idmx.plans.services.apply_move`), where
no request and no settings are at hand, so the site's public address and secret key are configured
once per process: `create_app` calls `configure(settings)`; any other process (a command that writes
plan answers) reads them from the environment at the first message.

A follower's raw token is never stored (only its SHA-256), so only the confirmation e-mail can carry
it. Every later e-mail carries a *signed* token instead: ``<follow id>.<HMAC of the id and the token
hash under the secret key>``. It cannot be forged without the secret key, it dies with the row, and a
follow re-created with the same id (SQLite reuses ids) gets a new token hash and so a new signature.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from threading import Lock

from idmx.settings import Settings


@dataclass(frozen=True)
class LinkConfig:
    public_url: str
    secret_key: str


_config: LinkConfig | None = None
_lock = Lock()


def configure(settings: Settings) -> None:
    global _config
    with _lock:
        _config = LinkConfig(settings.base_url.rstrip("/"), settings.secret_key)


def config() -> LinkConfig:
    global _config
    with _lock:
        if _config is None:
            settings = Settings.from_env()
            _config = LinkConfig(settings.base_url.rstrip("/"), settings.secret_key)
        return _config


def absolute(path: str) -> str:
    """`path` (starting with /) on the site's public address."""
    return config().public_url + path


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _signature(follow_id: int, token_hash: str) -> str:
    key = config().secret_key.encode()
    return hmac.new(key, f"follow:{follow_id}:{token_hash}".encode(), hashlib.sha256).hexdigest()[:40]


def signed_token(follow_id: int, token_hash: str) -> str:
    return f"{follow_id}.{_signature(follow_id, token_hash)}"


def split_signed(token: str) -> tuple[int, str] | None:
    """(follow id, signature) of a signed token, or None when `token` is not one."""
    head, dot, signature = token.partition(".")
    if not dot or not head.isdigit() or len(head) > 18 or len(signature) != 40:
        return None
    return int(head), signature


def signature_matches(follow_id: int, token_hash: str, signature: str) -> bool:
    return hmac.compare_digest(_signature(follow_id, token_hash), signature)


def unsubscribe_path(token: str) -> str:
    return f"/follows/unsubscribe/{token}"


def confirm_path(token: str) -> str:
    return f"/follows/confirm/{token}"


def item_path(item_id: int) -> str:
    return f"/items/{item_id}"
