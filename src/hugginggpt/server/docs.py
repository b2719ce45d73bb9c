"""``/docs`` from Swagger UI files installed with the ``swagger-ui-py`` package, so it works offline.

FastAPI's default page loads Swagger UI from a CDN: without network access it is blank. This is FastAPI's
"self-hosting JavaScript and CSS for docs" recipe with the files of an installed package (nothing is downloaded at
run time). When the package is missing, the page says so instead of staying blank.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)
STATIC = "/docs/static"
_NEEDED = ("swagger-ui-bundle.js", "swagger-ui.css")


def swagger_static_dir() -> Path | None:
    """The folder of Swagger UI's dist files from the ``swagger-ui-py`` package, or None when it is missing."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if all((folder / f).is_file() for f in _NEEDED) else None


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, its static files under ``/docs/static`` and the OAuth2 redirect page (not in the schema)."""
    folder = swagger_static_dir()
    if folder is not None:
        app.mount(STATIC, StaticFiles(directory=folder), name="swagger-static")
    else:
        log.warning("swagger-ui-py is not installed: /docs cannot show Swagger UI offline")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if folder is None:
            return HTMLResponse("<!doctype html><title>HuggingGPT API</title><p>Swagger UI is not installed here "
                                "(<code>pip install swagger-ui-py</code>). The schema is at "
                                "<a href=\"/openapi.json\">/openapi.json</a>.</p>", status_code=503)
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - API",
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{STATIC}/swagger-ui.css",
                                   swagger_favicon_url="/favicon.ico")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
