"""The API pages in headless Chromium with no internet: every script comes from the service.

A real uvicorn server on a loopback port serves ``create_app()`` with token checks on. The
browser may reach 127.0.0.1 only: any other request is aborted and recorded, so a page that
still needed a CDN shows up both as a blank page and as a recorded request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spoolwatch.demo.service import LocalService
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service over an empty SQLite database, with token checks on."""
    db = tmp_path_factory.mktemp("api-docs") / "spoolwatch.db"
    service = LocalService(
        create_app(settings=ServerSettings(db_url=f"sqlite:///{db}", auth=True)), free_port()
    )
    service.start()
    try:
        yield service.url
    finally:
        service.stop()


def test_swagger_ui_renders_the_operations_with_no_internet(service_url: str, visit: Any) -> None:
    """/docs draws every ingestion operation from files the service serves, without a token."""
    page = visit(f"{service_url}/docs", offline=True)
    operation = page.page.locator(
        ".opblock-post:has([data-path='/api/v2/deployments/{deployment_id}"
        "/predictionInputs/fromJSON/'])"
    )
    operation.first.wait_for(timeout=15_000)
    assert page.page.locator(".opblock").count() > 20
    assert page.page.locator(".opblock-get [data-path='/api/v2/version/']").count() == 1
    page.screenshot("api-docs-swagger-offline")
    assert page.blocked == []
    assert page.errors == []


def test_redoc_renders_the_operations_with_no_internet(service_url: str, visit: Any) -> None:
    """/redoc draws the same document from the service's own copy of ReDoc."""
    page = visit(f"{service_url}/redoc", offline=True)
    page.page.get_by_text("/predictionInputs/fromJSON/").first.wait_for(timeout=15_000)
    page.screenshot("api-docs-redoc-offline")
    assert page.blocked == []
    # ReDoc's footer logo lives on its vendor's CDN; the page's policy refuses it before any
    # request is made, and ReDoc hides the image when it fails.
    assert [e for e in page.errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []


def test_api_pages_name_no_address_outside_the_service(service_url: str) -> None:
    """The pages load their scripts from /docs/assets; only the listed files are served."""
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{service_url}{page}", timeout=10).text
        assert "/docs/assets/" in html
        assert "https://" not in html and "cdn" not in html.lower()
    asset = httpx.get(f"{service_url}/docs/assets/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{service_url}/docs/assets/..%2Fcore.py", timeout=10).status_code == 404
    assert httpx.get(f"{service_url}/docs/assets/core.py", timeout=10).status_code == 404
