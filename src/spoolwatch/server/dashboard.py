"""The dashboard: three HTML pages and their static assets, served by the monitoring service.

The pages carry no data. Each page's script fetches the service's JSON query API (the same
endpoints a user would call) and draws the charts with plotly.js. plotly.js comes from the
installed ``plotly`` Python package, so the dashboard works without internet access.

Authentication: the pages themselves are public (they hold no data). The scripts call the API
with ``Authorization: Bearer <token>`` when the user has entered a token (kept in the
browser's ``sessionStorage``, never in a cookie, so there is no cross-site request forgery
surface); on a loopback service started without authentication no token is needed.

Routes::

    GET /                               deployments overview
    GET /deployments/{deployment_id}    one deployment
    GET /agents                         the agent fleet's heartbeats
    GET /static/vendor/plotly.min.js    plotly.js from the installed plotly package
    GET /static/{name}                  the dashboard's CSS and scripts
    GET /api/v2/deployments/{deployment_id}/customMetrics/
                                        custom metric ids reported in a period (API; token)
"""

from __future__ import annotations

import importlib.util
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from spoolwatch.errors import MissingExtra
from spoolwatch.server.auth import require_read
from spoolwatch.server.periods import resolve_period, to_datetime
from spoolwatch.server.query_params import require_deployment
from spoolwatch.store.hourly import custom_metric_totals
from spoolwatch.version import __version__

__all__ = ["PLOTLY_ROUTE", "plotly_js_path", "router"]

logger = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"
TEMPLATES_DIR = _HERE / "templates"
PLOTLY_ROUTE = "/static/vendor/plotly.min.js"

# Ids are put into page attributes and API paths; anything else is not a deployment id.
_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js|svg)$")
_MEDIA_TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}

# Plotly styles its charts inline, so style-src needs 'unsafe-inline'; scripts stay same-origin.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
router = APIRouter()


def plotly_js_path() -> Path:
    """Path of ``plotly.min.js`` inside the installed ``plotly`` package (not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise MissingExtra("plotly", "server")
    path = Path(spec.origin).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise MissingExtra("plotly (with its package_data/plotly.min.js)", "server")
    return path


def _plotly_js_or_none() -> Path | None:
    try:
        return plotly_js_path()
    except MissingExtra as exc:
        logger.warning("the dashboard cannot serve plotly.js: %s", exc)
        return None


# Found once, when the app is built: importing inside request threads is slow and racy.
_PLOTLY_JS = _plotly_js_or_none()


def _page(request: Request, template: str, title: str, **context: object) -> HTMLResponse:
    context = {"title": title, "version": __version__, "plotly_src": PLOTLY_ROUTE, **context}
    return templates.TemplateResponse(request, template, context, headers=_PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(request: Request) -> HTMLResponse:
    """The deployments overview: one row per deployment with its status badges."""
    return _page(request, "overview.html", "Deployments", page="overview")


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse, include_in_schema=False)
def deployment_page(request: Request, deployment_id: str) -> HTMLResponse:
    """One deployment: service health, drift, accuracy, custom metrics and events."""
    if not _DEPLOYMENT_ID.match(deployment_id):
        raise HTTPException(status_code=404, detail="no such deployment")
    return _page(
        request,
        "deployment.html",
        f"Deployment {deployment_id}",
        page="deployment",
        deployment_id=deployment_id,
    )


@router.get("/agents", response_class=HTMLResponse, include_in_schema=False)
def agents_page(request: Request) -> HTMLResponse:
    """The agent fleet: last heartbeat and throughput of every agent, and the serverless
    fleet's backlog, leases and breaker when the service reads one."""
    fleet = getattr(request.app.state, "fleet_reader", None) is not None
    return _page(request, "agents.html", "Agents", page="agents", serverless_fleet=fleet)


@router.get(PLOTLY_ROUTE, include_in_schema=False)
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package (no CDN: the dashboard works offline)."""
    if _PLOTLY_JS is None:
        raise HTTPException(status_code=503, detail=str(MissingExtra("plotly", "server")))
    return FileResponse(
        _PLOTLY_JS,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/static/{name}", include_in_schema=False)
def static_asset(name: str) -> Response:
    """The dashboard's own CSS and scripts; only plain file names from the static folder."""
    match = _STATIC_NAME.match(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[match.group(1)],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/api/v2/deployments/{deployment_id}/customMetrics/",
    dependencies=[Depends(require_read)],
    tags=["monitoring"],
    responses={404: {"description": "unknown deployment"}},
)
def list_custom_metrics(
    request: Request,
    deployment_id: str,
    start: Annotated[datetime | None, Query(description="period start (ISO 8601)")] = None,
    end: Annotated[datetime | None, Query(description="period end (exclusive)")] = None,
) -> dict[str, Any]:
    """Ids of the custom metrics reported for the deployment in the period (default 7 days),
    with their number of values and the time of the last one."""
    deployment = require_deployment(request, deployment_id)
    period = resolve_period(start, end)
    rows = custom_metric_totals(request.app.state.store, deployment.id, period.start, period.end)
    data = [
        {"id": metric_id, "count": int(count), "lastAt": to_datetime(last_at)}
        for metric_id, count, last_at in rows
    ]
    return {"count": len(data), "data": data}
