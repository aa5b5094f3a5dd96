"""The API pages in headless Chromium with no internet: every script comes from the service.

A real uvicorn server on a loopback port serves ``create_app()`` with token checks on. The
browser may reach 127.0.0.1 only: any other request is aborted and recorded, so a page that
still needed a CDN shows up both as a blank page and as a recorded request.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from spoolwatch.demo.service import LocalService
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from tests.conftest import IN_CI, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not (os.path.exists(CHROMIUM) and shutil.which("chromium")):
        message = (
            f"Debian's chromium is not installed at {CHROMIUM} (run scripts/ensure-browser.sh)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class OfflinePage:
    """A page that may reach only loopback addresses; it records every other request."""

    def __init__(self, browser: Any, url: str) -> None:
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1360, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )
        self.page.on(
            "response",
            lambda resp: (
                self.errors.append(f"HTTP {resp.status}: {resp.url}")
                if resp.status >= 400
                else None
            ),
        )
        self.page.goto(url, wait_until="networkidle")

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def offline(browser: Any) -> Iterator[Any]:
    """Opens pages with the internet cut off; closes them after the test."""
    pages: list[OfflinePage] = []

    def open_page(url: str) -> OfflinePage:
        pages.append(OfflinePage(browser, url))
        return pages[-1]

    yield open_page
    for page in pages:
        page.context.close()


def test_swagger_ui_renders_the_operations_with_no_internet(service_url: str, offline: Any) -> None:
    """/docs draws every ingestion operation from files the service serves, without a token."""
    visit = offline(f"{service_url}/docs")
    operation = visit.page.locator(
        ".opblock-post:has([data-path='/api/v2/deployments/{deployment_id}"
        "/predictionInputs/fromJSON/'])"
    )
    operation.first.wait_for(timeout=15_000)
    assert visit.page.locator(".opblock").count() > 20
    assert visit.page.locator(".opblock-get [data-path='/api/v2/version/']").count() == 1
    visit.screenshot("api-docs-swagger-offline")
    assert visit.blocked == []
    assert visit.errors == []


def test_redoc_renders_the_operations_with_no_internet(service_url: str, offline: Any) -> None:
    """/redoc draws the same document from the service's own copy of ReDoc."""
    visit = offline(f"{service_url}/redoc")
    visit.page.get_by_text("/predictionInputs/fromJSON/").first.wait_for(timeout=15_000)
    visit.screenshot("api-docs-redoc-offline")
    assert visit.blocked == []
    # ReDoc's footer logo lives on its vendor's CDN; the page's policy refuses it before any
    # request is made, and ReDoc hides the image when it fails.
    assert [e for e in visit.errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []


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
