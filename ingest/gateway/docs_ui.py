"""``/docs``: Swagger UI served from this process, never from a CDN (closed networks).

The assets come from the ``swagger-ui-bundle`` package (Swagger UI 4.15.5, a dependency):
``/docs/static/swagger-ui-bundle.js``, ``swagger-ui.css`` and ``favicon-32x32.png``. The page
loads nothing from another host.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

STATIC = "/docs/static"


def install(app: FastAPI) -> None:
    """Serve the Swagger UI page at ``/docs`` and its assets under :data:`STATIC`."""

    async def docs(request: Request) -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png")

    app.mount(STATIC, StaticFiles(directory=str(swagger_ui_path)), name="docs-static")
    app.add_route("/docs", docs, include_in_schema=False)
