"""Fixtures of the end-to-end tests: headless Chromium for the dashboard and API pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.dashboard_browser import CHROMIUM, CHROMIUM_ARGS, PageVisit, need_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    """Opens pages; closes their browser contexts after the test."""
    visits: list[PageVisit] = []

    def open_page(url: str, *, offline: bool = False) -> PageVisit:
        page = PageVisit(browser, url, offline=offline)
        visits.append(page)
        return page

    yield open_page
    for page in visits:
        page.close()
