"""The API pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with no CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank without internet
access. These pages load the same scripts from the service itself: the files come from the
installed ``fastapi-offline`` package (a ``server`` extra), which ships Swagger UI and ReDoc
builds; only its files are used, not its app factory. Like the OpenAPI document, the pages
need no token.

Routes::

    GET /docs                     Swagger UI over /openapi.json
    GET /docs/oauth2-redirect     Swagger UI's OAuth2 redirect page
    GET /redoc                    ReDoc over /openapi.json
    GET /docs/assets/{name}       the scripts, stylesheet and icon those pages load
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from fastapi.responses import FileResponse, HTMLResponse

from spoolwatch.errors import MissingExtra

__all__ = ["ASSETS_ROUTE", "DOCS_ROUTE", "REDOC_ROUTE", "api_docs_assets_dir", "router"]

logger = logging.getLogger(__name__)

DOCS_ROUTE = "/docs"
REDOC_ROUTE = "/redoc"
ASSETS_ROUTE = "/docs/assets"
_OAUTH2_REDIRECT_ROUTE = "/docs/oauth2-redirect"
_PACKAGE = "fastapi_offline"

#: The only files served, with their media types: nothing else of the package is exposed.
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}

# Swagger UI would otherwise ask validator.swagger.io to judge the document.
_SWAGGER_PARAMETERS = {**swagger_ui_default_parameters, "validatorUrl": None}

# The pages start their viewer with an inline script, and both viewers style inline. The
# policy keeps everything else on the service: ReDoc's footer logo, which it loads from its
# vendor's CDN and hides when it fails to, is refused by the browser instead of requested.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


def api_docs_assets_dir() -> Path:
    """The folder of Swagger UI and ReDoc files inside the installed ``fastapi-offline``."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra("fastapi-offline", "server")
    folder = Path(next(iter(spec.submodule_search_locations))).resolve() / "static"
    missing = [name for name in _ASSETS if not (folder / name).is_file()]
    if missing:
        raise MissingExtra(f"fastapi-offline (with static/{', static/'.join(missing)})", "server")
    return folder


def _assets_dir_or_none() -> Path | None:
    try:
        return api_docs_assets_dir()
    except MissingExtra as exc:
        logger.warning("the API pages cannot serve Swagger UI and ReDoc: %s", exc)
        return None


# Found once, when the app is built, like plotly.js for the dashboard.
_ASSETS_DIR = _assets_dir_or_none()


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(request: Request) -> str:
    return _root(request) + (request.app.openapi_url or "/openapi.json")


@router.get(DOCS_ROUTE, include_in_schema=False)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the service's OpenAPI document, its files served by the service."""
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - API",
        swagger_js_url=f"{root}{ASSETS_ROUTE}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_ROUTE}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_ROUTE}/favicon.png",
        oauth2_redirect_url=f"{root}{_OAUTH2_REDIRECT_ROUTE}",
        swagger_ui_parameters=_SWAGGER_PARAMETERS,
    )
    page.headers.update(_PAGE_HEADERS)
    return page


@router.get(_OAUTH2_REDIRECT_ROUTE, include_in_schema=False)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """The page Swagger UI's OAuth2 flow returns to."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_ROUTE, include_in_schema=False)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the service's OpenAPI document, without Google Fonts."""
    root = _root(request)
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - API reference",
        redoc_js_url=f"{root}{ASSETS_ROUTE}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_ROUTE}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(_PAGE_HEADERS)
    return page


@router.get(ASSETS_ROUTE + "/{name}", include_in_schema=False)
def api_docs_asset(name: str) -> FileResponse:
    """One of the files the API pages load; 404 for any other name."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail="not found")
    if _ASSETS_DIR is None:
        raise HTTPException(status_code=503, detail=str(MissingExtra("fastapi-offline", "server")))
    return FileResponse(
        _ASSETS_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
