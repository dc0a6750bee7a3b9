"""A request body that stops arriving ends the request with 408 instead of holding its connection.

granian bounds how long request headers may take (`idmx serve` sets it) but not the body: a client that
announces more bytes than it sends would keep a connection, and a worker's attention, for as long as
the socket lives. Each piece of the body must arrive within `BODY_TIMEOUT_S` of the previous one.
Once the whole body is in, ``receive`` is left alone (a streaming response uses it to notice that the
client went away). In production nginx enforces its own ``client_body_timeout`` in front.
"""

from __future__ import annotations

import asyncio

from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

BODY_TIMEOUT_S = 10.0


def body_timeout_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await app(scope, receive, send)
            return
        done = False

        async def timed_receive() -> Message:
            nonlocal done
            if done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), BODY_TIMEOUT_S)
            except TimeoutError:
                done = True
                raise HTTPException(status_code=408, detail="the request body stopped arriving") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        await app(scope, timed_receive, send)

    return middleware
