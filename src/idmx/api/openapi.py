"""The OpenAPI schema Litestar generates for /api/v1, and its interactive page (Swagger UI, served locally).

Only the API's routes are documented: the app sets `include_in_schema=False` and the API router sets
it back to True. Swagger UI's files are vendored under static/vendor (no CDN at run time).
"""

from __future__ import annotations

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag

from idmx import __version__

DOCS_PATH = "/api/docs"
SCHEMA_PATH = DOCS_PATH + "/openapi.json"
SWAGGER = "/static/vendor/swagger-ui-5.35.0"

DESCRIPTION = """\
Open data on IDMX consultations, their ranking runs, the IDMX editions and every institution's
open-up plan. Reading needs no account. Lists take `page` and `per_page` (at most 100) and answer
with `total`, `page`, `per_page`, `items`, `next` and `prev` and an RFC 8288 `Link` header. Every
read carries an `ETag` (send it back in `If-None-Match` to get 304 Not Modified).

Institutions answer their plan items with an API token created by their administrator at
`/staff/api-tokens`: `Authorization: Bearer <token>`. Errors are JSON, with each problem's field named
in `errors[].field`.
"""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="IDMX API",
        version=f"1 ({__version__})",
        description=DESCRIPTION,
        path=DOCS_PATH,
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                css_url=f"{SWAGGER}/swagger-ui.css",
                standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
                favicon="",
            ),
            JsonRenderPlugin(path="/openapi.json"),
        ],
        components=Components(security_schemes={
            "bearer": SecurityScheme(type="http", scheme="bearer", description="A per-institution API token."),
        }),
        tags=[
            Tag(name="consultations", description="Published consultations, their proposals and ranking runs."),
            Tag(name="editions", description="Published IDMX editions and their prioritised items."),
            Tag(name="institutions", description="Institutions and their open-up plans."),
            Tag(name="plans", description="Plan items, their history, and compliance figures."),
            Tag(name="plan answers", description="Institutions answer their plan items (API token required)."),
        ],
        use_handler_docstrings=True,
    )
