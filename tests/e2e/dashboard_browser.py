"""Headless Debian Chromium for the dashboard tests: the browser, a page visit and what it saw.

Playwright drives ``/usr/bin/chromium`` (never a downloaded browser). Pages open in the
``Europe/Berlin`` zone, not the machine's, so the tests see times converted for the viewer.
Screenshots go to ``test-artifacts/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWER_ZONE = "Europe/Berlin"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def need_chromium() -> None:
    if os.path.exists(CHROMIUM) and shutil.which("chromium"):
        return
    message = f"Debian's chromium is not installed at {CHROMIUM} (run scripts/ensure-browser.sh)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


class PageVisit:
    """A page opened in the browser, with every console error and failed request it caused.

    ``offline``: the page may reach loopback addresses only; every other request is aborted
    and recorded in :attr:`blocked`.
    """

    def __init__(self, browser: Any, url: str, *, offline: bool = False) -> None:
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(
            viewport={"width": 1360, "height": 900}, timezone_id=VIEWER_ZONE
        )
        if offline:
            self.context.route("**/*", self._local_only)
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda req: self.errors.append(f"request failed: {req.url}"))
        self.page.on(
            "response",
            lambda resp: (
                self.errors.append(f"HTTP {resp.status}: {resp.url}")
                if resp.status >= 400
                else None
            ),
        )
        self.page.goto(url, wait_until="networkidle")

    def _local_only(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")

    def _check_status(self, response: Any) -> None:
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def traces(self, chart_id: str) -> int:
        """Number of plotly traces drawn in the chart element ``chart_id`` (0 when none)."""
        selector = f"#{chart_id}.js-plotly-plot .main-svg"
        self.page.wait_for_selector(selector, timeout=10_000)
        count: int = self.page.evaluate(
            "(id) => (document.getElementById(id).data || []).length", chart_id
        )
        return count

    def chart(self, chart_id: str) -> dict[str, Any]:
        """What a drawn chart holds: its x range, its traces' names and sizes, its shapes and
        the entries its legend shows."""
        self.traces(chart_id)
        shown: dict[str, Any] = self.page.evaluate(
            """(id) => {
                const el = document.getElementById(id);
                const xaxis = el.layout.xaxis || {};
                const yaxis = el.layout.yaxis || {};
                return {
                    xrange: xaxis.range || null, xtype: el._fullLayout.xaxis.type,
                    yrange: yaxis.range || null,
                    traces: el.data.map((t) => ({
                        name: t.name || null, type: t.type, showlegend: t.showlegend !== false,
                        points: (t.orientation === "h" ? t.y : t.x || []).length,
                        y: t.orientation === "h" ? t.x : t.y,
                    })),
                    shapes: (el.layout.shapes || []).map((s) => ({
                        name: s.name || null, showlegend: !!s.showlegend,
                    })),
                    legend: el._fullLayout.showlegend
                        ? [...el.querySelectorAll(".legend .traces")].map((g) => g.textContent)
                        : [],
                };
            }""",
            chart_id,
        )
        return shown

    def screenshot(self, name: str) -> Path:
        """Full-page screenshot into ``test-artifacts/screenshots/``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        """Close the browser context."""
        self.context.close()
