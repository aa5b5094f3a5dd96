"""The dashboard in headless Chromium: every page loads without console errors and draws.

A real uvicorn server on a free loopback port serves ``create_app()`` over a temporary SQLite
database, populated through the ingestion API the agent uses. Debian's ``chromium`` is driven
by Playwright (never a downloaded browser). Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.demo.model import CATEGORICAL_FEATURES, CLASS_NAMES, ExampleModel
from spoolwatch.demo.service import LocalService
from spoolwatch.demo.traffic import CUSTOM_METRICS, SimulatedDay, TrafficPlan
from spoolwatch.report import Reporter
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.service_app import build_app
from spoolwatch.spools.memory import MemorySpool
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_plotly_js_is_served_by_the_app_not_a_cdn(live_service: str) -> None:
    """plotly.js comes from the installed plotly package, so the dashboard works offline."""
    response = httpx.get(f"{live_service}/static/vendor/plotly.min.js", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert b"plotly" in response.content[:2000].lower()
    page = httpx.get(f"{live_service}/", timeout=10).text
    assert "/static/vendor/plotly.min.js" in page
    assert "cdn" not in page.lower()
    assert "https://" not in page


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class Monitored:
    """A running service with one deployment full of traffic and one without any."""

    url: str
    busy_id: str
    empty_id: str
    store: Any


def _start(tmp: Path, *, auth: bool) -> tuple[LocalService, Any]:
    settings = ServerSettings(db_url=f"sqlite:///{tmp / 'spoolwatch.db'}", auth=auth)
    app = create_app(settings=settings)
    service = LocalService(app, free_port())
    service.start()
    return service, app.state.store


def _create_deployment(url: str, model: ExampleModel | None, label: str, **headers: str) -> str:
    body: dict[str, Any] = {"label": label, "targetType": "binary", "classNames": list(CLASS_NAMES)}
    if model is not None:
        training = model.training_data(1_000)
        body.update(
            targetName="loan_status",
            trainingData={**training.features, "loan_status": training.labels},
            featureTypes={name: "categorical" for name in CATEGORICAL_FEATURES},
        )
    response = httpx.post(f"{url}/api/v2/deployments/", json=body, headers=headers, timeout=60)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _agent_config(url: str, address: str, agent_id: str, token: str | None) -> AgentConfig:
    from spoolwatch.agent import Secret

    return AgentConfig(
        target=TargetConfig(url=url, api_token=Secret(token) if token else None),
        channels=(ChannelConfig(name="dashboard-test", address=address),),
        agent_id=agent_id,
        heartbeat_interval_seconds=0.2,
    )


def _report_a_day(
    url: str, deployment_id: str, model_id: str, token: str | None = None
) -> Callable[[], None]:
    """The example model reports a day of traffic into a memory spool; an agent drains it and
    keeps running (alive on the agents page) until the returned function stops it. A second
    agent drains an empty spool and stops (stopped on the agents page)."""
    address = f"memory://dashboard-{uuid.uuid4().hex}"
    day = SimulatedDay(
        ExampleModel(seed=3), TrafficPlan(rows=2_400, hours=24), datetime.now(UTC), seed=3
    )
    with Reporter(address, deployment_id=deployment_id, model_id=model_id, clock=day.clock) as r:
        day.run(r)
        # The day's failures are random; the events table must have a row whatever they were.
        r.report_event("prediction_request.failed", "Prediction request failed: upstream timeout")
    written = MemorySpool(address.removeprefix("memory://")).backlog().total
    agent = Agent(_agent_config(url, address, "dashboard-test-agent", token))
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(agent.run()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while sum(s.as_dict()["sent"] for s in agent.stats.values()) < written:
        assert thread.is_alive() and time.monotonic() < deadline, results
        time.sleep(0.05)
    empty = f"memory://dashboard-empty-{uuid.uuid4().hex}"
    done = Agent(_agent_config(url, empty, "dashboard-short-run", token)).run(until_empty=True)
    assert done.exit_code == 0

    def stop() -> None:
        agent.stop("test finished")
        thread.join(15)
        assert results and results[0].exit_code == 0 and results[0].quarantined == 0

    return stop


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    """The service over a temporary SQLite database, populated through Reporter and agent."""
    service, store = _start(tmp_path_factory.mktemp("dashboard"), auth=False)
    try:
        busy = _create_deployment(service.url, ExampleModel(seed=3), "Loan default")
        model_id = httpx.get(f"{service.url}/api/v2/deployments/{busy}/").json()["modelId"]
        stop_agent = _report_a_day(service.url, busy, model_id)
        empty = _create_deployment(service.url, None, "Not reporting yet")
        yield Monitored(service.url, busy, empty, store)
        stop_agent()
    finally:
        service.stop()


@pytest.fixture(scope="module")
def live_service(monitored: Monitored) -> str:
    """Base URL of the populated service."""
    return monitored.url


# --------------------------------------------------------------------------- the pages

DEPLOYMENT_CHARTS = (
    "chart-predictions",
    "chart-latency",
    "chart-errors",
    "chart-drift",
    "chart-histogram",
    "chart-target-drift",
    "chart-accuracy",
    "chart-custom-0",
    "chart-custom-1",
)


def test_overview_shows_status_badges_and_draws_predictions(
    monitored: Monitored, visit: Any
) -> None:
    page = visit(f"{monitored.url}/")
    assert page.traces("chart-overview-predictions") >= 1
    busy = page.page.locator(f"tr[data-deployment-id='{monitored.busy_id}']")
    badges = busy.locator(".badge")
    assert badges.count() == 3
    api = httpx.get(f"{monitored.url}/api/v2/deployments/{monitored.busy_id}/", timeout=30).json()
    for i, health in enumerate(("serviceHealth", "modelHealth", "accuracyHealth")):
        shown = badges.nth(i).get_attribute("class") or ""
        assert shown == f"badge {api[health]['status']}", (health, shown)
    assert api["serviceHealth"]["status"] != "unknown"
    assert api["modelHealth"]["status"] != "unknown"
    assert badges.nth(2).inner_text().startswith("Accuracy ")
    empty = page.page.locator(f"tr[data-deployment-id='{monitored.empty_id}'] .badge")
    assert all("unknown" in (empty.nth(i).get_attribute("class") or "") for i in range(3))
    assert page.page.inner_text("#tile-deployments") == "2"
    page.screenshot("overview")
    assert page.errors == []


def test_deployment_page_draws_every_chart(monitored: Monitored, visit: Any) -> None:
    page = visit(f"{monitored.url}/deployments/{monitored.busy_id}")
    for chart in DEPLOYMENT_CHARTS:
        assert page.traces(chart) >= 1, chart
    drift = page.chart("chart-drift")
    assert sum(t["points"] for t in drift["traces"] if t["type"] == "bar") == 11
    options = page.page.locator("#feature-select option")
    assert options.count() == 11
    assert page.page.locator("#events-table tbody tr:not(.placeholder)").count() >= 1
    assert page.page.inner_text("#tile-accuracy").endswith("%")
    page.screenshot("deployment")
    assert page.errors == []


def test_choosing_a_feature_redraws_its_baseline_and_current_histogram(
    monitored: Monitored, visit: Any
) -> None:
    page = visit(f"{monitored.url}/deployments/{monitored.busy_id}")
    page.traces("chart-histogram")
    page.page.select_option("#feature-select", "region")
    labels = page.page.evaluate("() => document.getElementById('chart-histogram').data[0].x")
    assert {"north", "south", "east", "west"} <= set(labels)
    traces = page.page.evaluate(
        "() => document.getElementById('chart-histogram').data.map((t) => t.name)"
    )
    assert traces == ["baseline (training)", "current"]
    page.page.locator("#chart-histogram").scroll_into_view_if_needed()
    page.screenshot("deployment-histogram-region")
    assert page.errors == []


# One bar trace per drift status: every drawn bar with its feature, found through plotly's own
# data on the SVG nodes (the order of drawn traces need not be the order of the data).
BAR_BOXES = """() => {
    const boxes = [];
    for (const group of document.querySelectorAll('#chart-drift .trace.bars')) {
        const trace = group.__data__ && group.__data__[0] && group.__data__[0].trace;
        if (!trace || !trace.y) continue;
        for (const point of group.querySelectorAll('.point')) {
            if (!point.__data__) continue;
            const r = point.getBoundingClientRect();
            boxes.push({name: trace.y[point.__data__.i], x: r.x, y: r.y, width: r.width,
                        height: r.height});
        }
    }
    return boxes;
}"""

# Plotly's hover label for the point under the mouse names the feature ("age: 0.012 …").
HOVER_NAMES = """(name) => {
    const layer = document.querySelector('#chart-drift .hoverlayer');
    return !!layer && layer.textContent.includes(name + ':');
}"""


def test_clicking_a_drift_bar_shows_that_feature_histogram(
    monitored: Monitored, visit: Any
) -> None:
    page = visit(f"{monitored.url}/deployments/{monitored.busy_id}")
    page.traces("chart-drift")
    shown = page.page.input_value("#feature-select")
    page.page.locator("#chart-drift").scroll_into_view_if_needed()
    # The page may still be settling (later panels drawn, the chart redrawn): point at the
    # target's bar until plotly's own hover label names it, then click there.
    target = ""
    for _ in range(10):
        # The widest bar of another feature than the one shown: a bar of little drift (a few
        # pixels) is too thin to point at.
        others = [b for b in page.page.evaluate(BAR_BOXES) if b["name"] != shown]
        assert others, "no drift bar of another feature is drawn"
        box = max(others, key=lambda b: b["width"])
        target = box["name"]
        # Plotly listens on its drag layer above the bars: point where the bar is drawn.
        x = box["x"] + min(max(box["width"] / 2, 1), 4)
        y = box["y"] + box["height"] / 2
        page.page.mouse.move(x, y)
        try:
            page.page.wait_for_function(HOVER_NAMES, arg=target, timeout=1500)
        except PlaywrightTimeout:
            page.page.mouse.move(0, 0)
            continue
        page.page.mouse.click(x, y)
        break
    else:
        pytest.fail(f"plotly never named {target!r} under the mouse on the drift chart")
    assert page.page.input_value("#feature-select") == target
    labels = page.page.evaluate("() => document.getElementById('chart-histogram').data[0].x")
    assert labels[-1] == "(missing)"
    assert ("north" in labels) == (target == "region")
    assert page.errors == []


def test_custom_metrics_are_listed_for_the_dashboard(monitored: Monitored) -> None:
    response = httpx.get(
        f"{monitored.url}/api/v2/deployments/{monitored.busy_id}/customMetrics/", timeout=10
    )
    assert response.status_code == 200
    assert sorted(m["id"] for m in response.json()["data"]) == sorted(CUSTOM_METRICS)
    assert all(m["count"] > 0 for m in response.json()["data"])
    missing = httpx.get(f"{monitored.url}/api/v2/deployments/{'0' * 24}/customMetrics/")
    assert missing.status_code == 404


def test_agents_page_shows_the_fleet_heartbeats(monitored: Monitored, visit: Any) -> None:
    page = visit(f"{monitored.url}/agents")
    assert page.traces("chart-agent-records") >= 1
    assert page.traces("chart-agent-heartbeats") >= 1
    for chart_id in ("chart-agent-records", "chart-agent-heartbeats"):
        traces = page.chart(chart_id)["traces"]
        assert all(t["name"] and t["showlegend"] for t in traces), traces
    states = [t["name"] for t in page.chart("chart-agent-heartbeats")["traces"]]
    assert {"alive", "stopped"} <= set(states)
    row = page.page.locator("#agents-table tbody tr").first
    assert "dashboard-test-agent" in row.inner_text()
    assert "alive" in row.locator(".badge").inner_text()
    stopped = page.page.locator("#agents-table tbody tr", has_text="dashboard-short-run")
    assert stopped.locator(".badge").inner_text() == "stopped"
    assert page.page.inner_text("#tile-alive") == "1"
    page.screenshot("agents")
    assert page.errors == []


@pytest.mark.aws
def test_agents_page_shows_the_serverless_fleet_read_from_aws(
    tmp_path: Path, visit: Any, moto_server: str
) -> None:
    import boto3

    from spoolwatch.scaling import (
        CircuitBreaker,
        FailureKind,
        LeaseTable,
        ManualClock,
        ScalingSettings,
        SystemClock,
    )
    from spoolwatch.serverless.dynamodb import DynamoBreakerStore, DynamoLeaseStore, create_table
    from spoolwatch.serverless.wake.dynamodb import DynamoWakeSwitch

    class MappingClient:
        def update_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
            return {"UUID": kwargs["UUID"], "State": "Updating"}

    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
    suffix = uuid.uuid4().hex[:8]
    data = sqs.create_queue(QueueName=f"dash-data-{suffix}")["QueueUrl"]
    agent = sqs.create_queue(QueueName=f"dash-agent-{suffix}")["QueueUrl"]
    table = f"dash-state-{suffix}"
    create_table(dynamodb, table)
    for i in range(5):
        sqs.send_message(QueueUrl=data, MessageBody=f"record-{i}")
    scaling = ScalingSettings(target_concurrency=4, failure_threshold=1, lease_seconds=90.0)
    clock = SystemClock()
    leases = LeaseTable.from_settings(DynamoLeaseStore(dynamodb, table), scaling, clock)
    assert leases.acquire("lambda-7f3a") is not None
    breaker = CircuitBreaker(DynamoBreakerStore(dynamodb, table), scaling, clock)
    breaker.record_failure(reason="destination answered 503", kind=FailureKind.SERVER_ERROR)
    wake = DynamoWakeSwitch(
        dynamodb, table, MappingClient(), "mapping-uuid", clock=ManualClock(time.time() - 120)
    )
    assert wake.disarm("breaker_open")
    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path / 'spoolwatch.db'}",
        auth=False,
        fleet_data_queue_url=data,
        fleet_agent_queue_url=agent,
        fleet_table=table,
        fleet_target_concurrency=4,
    )
    service = LocalService(build_app(settings=settings), free_port())
    service.start()
    try:
        page = visit(f"{service.url}/agents")
        page.page.wait_for_selector("#fleet-panel:not([hidden])")
        assert page.page.inner_text("#fleet-visible") == "5"
        assert page.page.inner_text("#fleet-leases-held") == "1 of 4"
        badge = page.page.locator("#fleet-breaker")
        assert (badge.inner_text(), badge.get_attribute("class")) == ("open", "badge red")
        detail = page.page.inner_text("#fleet-breaker-detail")
        assert "destination answered 503" in detail and "re-opens to a probe in" in detail
        wake_badge = page.page.locator("#fleet-wake")
        assert (wake_badge.inner_text(), wake_badge.get_attribute("class")) == (
            "disarmed",
            "badge unknown",
        )
        wake_detail = page.page.inner_text("#fleet-wake-detail")
        assert wake_detail.startswith("breaker_open · changed ") and "min ago" in wake_detail
        assert "wait for the running agents or the schedule" in wake_detail
        lease_row = page.page.locator("#fleet-leases tbody tr").first
        assert "lambda-7f3a" in lease_row.inner_text()
        failure_row = page.page.locator("#fleet-failures tbody tr").first
        assert "server_error" in failure_row.inner_text()
        page.page.locator("#fleet-panel").scroll_into_view_if_needed()
        page.screenshot("agents-serverless-fleet")
        assert page.errors == []
    finally:
        service.stop()
        sqs.close()
        dynamodb.close()


def test_agents_page_without_a_serverless_fleet_has_no_fleet_panel(
    monitored: Monitored, visit: Any
) -> None:
    page = visit(f"{monitored.url}/agents")
    page.page.wait_for_selector("#agents-table tbody tr:not(.placeholder)")
    assert page.page.locator("#fleet-panel").count() == 0
    assert page.errors == []


def test_deployment_without_data_says_so_without_errors(monitored: Monitored, visit: Any) -> None:
    page = visit(f"{monitored.url}/deployments/{monitored.empty_id}")
    page.page.wait_for_selector("#chart-predictions .chart-empty")
    assert page.page.locator(".chart-empty").count() >= 5
    assert "No events" in page.page.inner_text("#events-table")
    page.screenshot("deployment-empty")
    assert page.errors == []


def test_pages_and_assets_reject_what_they_do_not_serve(monitored: Monitored) -> None:
    for path in (
        "/static/nope.js",
        "/static/..%2Fdashboard.py",
        "/static/dashboard.py",
        "/deployments/%3Cscript%3E",
    ):
        response = httpx.get(f"{monitored.url}{path}", timeout=10)
        assert response.status_code == 404, path
    page = httpx.get(f"{monitored.url}/agents", timeout=10)
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_dashboard_asks_for_a_token_when_the_service_needs_one(tmp_path: Path, visit: Any) -> None:
    from spoolwatch.store.tokens import create_token

    service, store = _start(tmp_path, auth=True)
    try:
        _, token = create_token(store, "dashboard")
        auth = {"Authorization": f"Bearer {token}"}
        deployment = _create_deployment(service.url, ExampleModel(seed=5), "Secured", **auth)
        model_id = httpx.get(
            f"{service.url}/api/v2/deployments/{deployment}/", headers=auth
        ).json()["modelId"]
        _report_a_day(service.url, deployment, model_id, token)()
        page = visit(f"{service.url}/deployments/{deployment}")
        page.page.wait_for_selector("#auth-panel:not([hidden])")
        assert page.page.locator(".js-plotly-plot").count() == 0
        page.errors.clear()  # the 401 answers that asked for the token
        page.page.fill("#auth-token", token)
        with page.page.expect_navigation(wait_until="networkidle"):
            page.page.click("#auth-form button")
        assert page.traces("chart-drift") >= 1
        assert page.page.locator("#auth-panel").is_hidden()
        assert page.errors == []
    finally:
        service.stop()
