"""Compressed answers (brotli, else gzip) for text that is worth it, through Litestar's compression
middleware with a narrower idea of what to compress.

Compressed: text (HTML, CSS, JavaScript, CSV, JSON, XML, SVG) of at least `MINIMUM_SIZE` bytes, streamed
downloads included (each piece is compressed as it goes). Left alone: formats that are compressed
already (XLSX, ZIP, PNG, the favicon), partial answers (206), and anything another layer encoded.

HTML is compressed too: the one secret pages repeat, the browser's CSRF token, is masked afresh in every
answer (`idmx.web.csrf`), so a page's size tells someone who watches encrypted sizes nothing about it
(BREACH). Pages that show a secret once (a new API token) show a different one every time.
"""

from __future__ import annotations

from litestar.config.compression import CompressionConfig
from litestar.middleware.compression import CompressionMiddleware
from litestar.types import Message, Scope, Send

MINIMUM_SIZE = 500  # below this, the compressed form plus its headers saves next to nothing
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "application/ld+json",
               "application/geo+json", "application/problem+json", "image/svg+xml")


def _header(message: Message, name: bytes) -> str:
    for key, value in message.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1").lower()
    return ""


def _text(message: Message) -> bool:
    media_type = _header(message, b"content-type").split(";")[0].strip()
    return media_type.startswith(_TEXT_TYPES) or media_type.endswith(("+json", "+xml"))


def compressible(message: Message, scope: Scope) -> bool:
    """Whether the answer that `message` (``http.response.start``) begins is worth compressing."""
    if message.get("status") == 206 or _header(message, b"content-encoding") or _header(message, b"content-range"):
        return False
    return _text(message)


class TextCompressionMiddleware(CompressionMiddleware):
    """Litestar's middleware, compressing only what `compressible` accepts."""

    def create_compression_send_wrapper(self, send: Send, compression_encoding: str, scope: Scope) -> Send:  # type: ignore[override]
        compressing = super().create_compression_send_wrapper(send, compression_encoding, scope)  # type: ignore[arg-type]
        chosen: Send = send

        async def send_wrapper(message: Message) -> None:
            nonlocal chosen
            if message["type"] == "http.response.start":
                chosen = compressing if compressible(message, scope) else send
            await chosen(message)

        return send_wrapper


def compression_config() -> CompressionConfig:
    """Brotli for browsers that accept it (quality 5: fast enough to compress every page on the fly), else
    gzip at level 6 (level 9 costs much more time for a few bytes less)."""
    try:
        import brotli  # noqa: F401
    except ImportError:  # brotli is a dependency; without it, gzip alone
        return CompressionConfig(backend="gzip", minimum_size=MINIMUM_SIZE, gzip_compress_level=6,
                                 middleware_class=TextCompressionMiddleware)
    return CompressionConfig(backend="brotli", minimum_size=MINIMUM_SIZE, brotli_quality=5, gzip_compress_level=6,
                             brotli_gzip_fallback=True, middleware_class=TextCompressionMiddleware)
