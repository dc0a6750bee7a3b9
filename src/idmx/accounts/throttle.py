"""Login throttling: at most 5 attempts per minute per account and per client address."""

from __future__ import annotations

import time

from litestar.stores.base import Store

ATTEMPTS_PER_MINUTE = 5


async def allow(store: Store, *keys: str, now: float | None = None) -> bool:
    """Count one attempt under every key; False when any key is over its allowance this minute."""
    window = int((now if now is not None else time.time()) // 60)
    allowed = True
    for key in keys:
        bucket = f"{key}:{window}"
        raw = await store.get(bucket)
        count = int(raw or 0) + 1
        await store.set(bucket, str(count), expires_in=120)
        allowed &= count <= ATTEMPTS_PER_MINUTE
    return allowed
