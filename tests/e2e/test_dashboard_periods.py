"""The dashboard on sparse and on busy data, in headless Chromium in the Europe/Berlin zone.

One deployment has a single hour of traffic with one labelled row; another has a week of the
example model's traffic, drifting (and losing accuracy) from two thirds of the way through.
Every time chart must span the period picked, whatever data it holds; a figure from too few
rows says so; the accuracy badge's colour and text come from the service's one judgement;
every mark has a legend entry; times are the viewer's, with the zone named.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.demo.model import CATEGORICAL_FEATURES, CLASS_NAMES, ExampleModel
from spoolwatch.demo.service import LocalService
from spoolwatch.demo.traffic import CUSTOM_METRICS, SimulatedDay, TrafficPlan
from spoolwatch.report import Reporter
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from tests.conftest import free_port
from tests.e2e.dashboard_browser import VIEWER_ZONE, PageVisit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BERLIN = ZoneInfo(VIEWER_ZONE)
HOUR = timedelta(hours=1)
TIME_CHARTS = (
    "chart-predictions",
    "chart-latency",
    "chart-errors",
    "chart-target-drift",
    "chart-accuracy",
    "chart-custom-0",
)
SPANS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class Service:
    """A running service with a deployment of one sparse hour and one of a busy week."""

    url: str
    sparse_id: str
    week_id: str


def _create(url: str, label: str, model: ExampleModel) -> tuple[str, str]:
    training = model.training_data(1_000)
    body: dict[str, Any] = {
        "label": label,
        "targetType": "binary",
        "classNames": list(CLASS_NAMES),
        "targetName": "loan_status",
        "trainingData": {**training.features, "loan_status": training.labels},
        "featureTypes": {name: "categorical" for name in CATEGORICAL_FEATURES},
    }
    response = httpx.post(f"{url}/api/v2/deployments/", json=body, timeout=60)
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), str(response.json()["modelId"])


def _drain(url: str, address: str) -> None:
    config = AgentConfig(
        target=TargetConfig(url=url),
        channels=(ChannelConfig(name="periods-test", address=address),),
        agent_id=f"periods-{uuid.uuid4().hex[:6]}",
    )
    done = Agent(config).run(until_empty=True)
    assert done.exit_code == 0 and done.quarantined == 0


def _report_one_sparse_hour(url: str, deployment_id: str, model_id: str) -> None:
    """Six requests of five rows in the last hour, one actual, one custom metric value."""
    address = f"memory://periods-sparse-{uuid.uuid4().hex}"
    model = ExampleModel(seed=21)
    now = datetime.now(UTC)
    # A minute apart from 50 minutes ago, never later than now (reads past 'now' are empty).
    moments = iter([now - timedelta(minutes=max(0, 50 - i)) for i in range(60)])
    with Reporter(
        address, deployment_id=deployment_id, model_id=model_id, clock=lambda: next(moments)
    ) as reporter:
        for request in range(6):
            batch = model.batch(5, drift=0.0)
            ids = [f"sparse-{request}-{row}" for row in range(5)]
            reporter.report_deployment_stats(5, 21.5 + request)
            reporter.report_predictions_data(
                batch.features,
                model.predict(batch.features),
                association_ids=ids,
                class_names=list(CLASS_NAMES),
            )
        reporter.report_actuals([{"associationId": "sparse-0-0", "actualValue": CLASS_NAMES[0]}])
        reporter.report_deployment_metric(CUSTOM_METRICS[0], 0.5)
        reporter.report_event("prediction_request.failed", "Prediction request failed: timeout")
    _drain(url, address)


def _report_a_week(url: str, deployment_id: str, model_id: str) -> None:
    """A week of the example model's traffic (25 rows an hour, 70% labelled), and in its
    last hour one failed and one refused request, so every period's error chart has bars
    (the week's own errors are random, and its rough hour lies days back)."""
    address = f"memory://periods-week-{uuid.uuid4().hex}"
    week = SimulatedDay(
        ExampleModel(seed=11), TrafficPlan(rows=168 * 25, hours=168), datetime.now(UTC), seed=11
    )
    with Reporter(address, deployment_id=deployment_id, model_id=model_id, clock=week.clock) as r:
        week.run(r)
        r.report_deployment_stats(1, 25.0, system_error=True)
        r.report_deployment_stats(1, 25.0, user_error=True)
    _drain(url, address)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service over a temporary SQLite database with both deployments reported."""
    tmp = tmp_path_factory.mktemp("dashboard-periods")
    settings = ServerSettings(db_url=f"sqlite:///{tmp / 'spoolwatch.db'}", auth=False)
    local = LocalService(create_app(settings=settings), free_port())
    local.start()
    try:
        sparse, sparse_model = _create(local.url, "One sparse hour", ExampleModel(seed=21))
        _report_one_sparse_hour(local.url, sparse, sparse_model)
        week, week_model = _create(local.url, "A busy week", ExampleModel(seed=11))
        _report_a_week(local.url, week, week_model)
        yield Service(local.url, sparse, week)
    finally:
        local.stop()


# --------------------------------------------------------------------------- expectations


def _hour_end(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + HOUR


def _wall(moment: datetime) -> str:
    """A moment as Berlin wall time, as plotly's date axes hold it."""
    return moment.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M:%S")


def _ranges(span: timedelta, before: datetime, after: datetime) -> list[list[str]]:
    """The axis ranges the picked period may have (an hour may end during the visit)."""
    ends = {_hour_end(before), _hour_end(after)}
    return [[_wall(end - span), _wall(end)] for end in sorted(ends)]


def _open(
    visit: Any, url: str, chart_id: str = "chart-predictions"
) -> tuple[PageVisit, datetime, datetime]:
    """The page once ``chart_id`` is drawn, and the times before and after opening it."""
    before = datetime.now(UTC)
    page: PageVisit = visit(url)
    page.traces(chart_id)
    return page, before, datetime.now(UTC)


def _berlin_time(iso: str) -> str:
    """A time as the page shows it: "07 Dec 2026, 10:59:50 CET" (en-GB: "Sept")."""
    moment = datetime.fromisoformat(iso).astimezone(BERLIN)
    month = "Sept" if moment.month == 9 else moment.strftime("%b")
    return moment.strftime(f"%d {month} %Y, %H:%M:%S %Z")


def _assert_every_mark_has_a_legend_entry(page: PageVisit, chart_id: str) -> None:
    chart = page.chart(chart_id)
    marks = [t for t in chart["traces"] if t["points"]]
    assert all(t["name"] and t["showlegend"] for t in marks), (chart_id, chart["traces"])
    assert all(s["name"] and s["showlegend"] for s in chart["shapes"]), chart_id
    assert len(chart["legend"]) == len(chart["traces"]) + len(chart["shapes"]), chart


def _accuracy_api(url: str, deployment_id: str, span: timedelta) -> dict[str, Any]:
    end = _hour_end(datetime.now(UTC))
    bucket = "P1D" if span > timedelta(days=7) else "PT1H"
    params = {"start": (end - span).isoformat(), "bucketSize": bucket}
    response = httpx.get(
        f"{url}/api/v2/deployments/{deployment_id}/accuracy/", params=params, timeout=60
    )
    assert response.status_code == 200
    report: dict[str, Any] = response.json()
    return report


def _assert_badge_tells_its_judgement(badge: Any, report: dict[str, Any]) -> None:
    """The badge's colour is the report's status; its text the figure judged, which agrees
    with the README's thresholds (yellow from 10% worse than the reference, red from 20%)."""
    status, judged = report["status"], report["judgedOn"]
    assert badge.get_attribute("class") == f"badge {status}"
    text = badge.inner_text()
    assert text.startswith(f"Accuracy {judged['value'] * 100:.1f}%"), (text, judged)
    change = judged["percentChange"]
    assert f"{abs(change):.1f}% vs reference" in text, (text, judged)
    assert (" in " in text) == judged["window"], (text, judged)
    if judged["window"]:
        start = datetime.fromisoformat(judged["period"]["start"]).astimezone(BERLIN)
        assert start.strftime("%H:00") in text, (text, judged)
    if status == "red":
        assert change <= -20, (text, judged)
    if status == "yellow":
        assert -20 < change <= -10, (text, judged)


# --------------------------------------------------------------------------- sparse data


@pytest.mark.parametrize("picked", ["24h", "7d"])
def test_one_sparse_hour_is_drawn_on_the_whole_picked_period(
    service: Service, visit: Any, picked: str
) -> None:
    url = f"{service.url}/deployments/{service.sparse_id}?range={picked}"
    page, before, after = _open(visit, url)
    for chart_id in TIME_CHARTS:
        chart = page.chart(chart_id)
        assert chart["xtype"] == "date", chart_id
        assert chart["xrange"] in _ranges(SPANS[picked], before, after), (chart_id, chart)
    assert page.errors == []


def test_one_labelled_row_shows_no_accuracy_figure(service: Service, visit: Any) -> None:
    page, _, _ = _open(visit, f"{service.url}/deployments/{service.sparse_id}")
    assert page.page.inner_text("#tile-predictions") == "30"
    assert page.page.inner_text("#tile-accuracy") == "n/a (1 row)"
    badge = page.page.locator("#badge-accuracy")
    assert badge.get_attribute("class") == "badge unknown"
    assert badge.inner_text() == "Accuracy n/a (1 row)"
    accuracy = page.chart("chart-accuracy")
    assert any(t["name"] == "fewer than 100 rows" for t in accuracy["traces"])
    for chart_id in (*TIME_CHARTS, "chart-drift", "chart-histogram"):
        _assert_every_mark_has_a_legend_entry(page, chart_id)
    errors = page.chart("chart-errors")
    assert errors["yrange"][0] == 0 and errors["yrange"][1] > 0
    page.screenshot("periods-sparse-hour")
    assert page.errors == []


def test_event_times_are_the_viewers_with_the_zone_named(service: Service, visit: Any) -> None:
    page, _, _ = _open(visit, f"{service.url}/deployments/{service.sparse_id}")
    assert page.page.inner_text("#time-zone") in (
        f"Times in {VIEWER_ZONE} (CET)",
        f"Times in {VIEWER_ZONE} (CEST)",
    )
    events = httpx.get(f"{service.url}/api/v2/deployments/{service.sparse_id}/events/").json()
    first = page.page.locator("#events-table tbody tr").first.locator("td").first
    assert first.inner_text() == _berlin_time(events["data"][0]["at"])
    assert first.inner_text().endswith((" CET", " CEST"))
    assert page.errors == []


# --------------------------------------------------------------------------- a busy week


@pytest.mark.parametrize("picked", ["24h", "7d", "30d"])
def test_a_busy_week_is_drawn_on_the_picked_period_with_a_badge_that_agrees(
    service: Service, visit: Any, picked: str
) -> None:
    url = f"{service.url}/deployments/{service.week_id}?range={picked}"
    page, before, after = _open(visit, url)
    for chart_id in TIME_CHARTS:
        chart = page.chart(chart_id)
        assert chart["xrange"] in _ranges(SPANS[picked], before, after), (chart_id, chart)
        _assert_every_mark_has_a_legend_entry(page, chart_id)
    report = _accuracy_api(service.url, service.week_id, SPANS[picked])
    assert report["sampleSize"] >= report["minRows"]
    assert page.page.inner_text("#tile-accuracy") == (
        f"{report['metrics']['accuracy']['value'] * 100:.1f}%"
    )
    _assert_badge_tells_its_judgement(page.page.locator("#badge-accuracy"), report)
    errors = page.chart("chart-errors")
    stacked = [sum(v) for v in zip(*(t["y"] for t in errors["traces"]), strict=True)]
    assert errors["yrange"][1] > max(stacked) > 0  # room above the highest bar
    _assert_every_mark_has_a_legend_entry(page, "chart-drift")
    page.screenshot(f"periods-week-{picked}")
    assert page.errors == []


def test_overview_badges_and_chart_follow_the_picked_period(service: Service, visit: Any) -> None:
    page, before, after = _open(visit, f"{service.url}/?range=7d", "chart-overview-predictions")
    chart = page.chart("chart-overview-predictions")
    assert chart["xrange"] in _ranges(SPANS["7d"], before, after), chart
    _assert_every_mark_has_a_legend_entry(page, "chart-overview-predictions")
    sparse = page.page.locator(f"tr[data-deployment-id='{service.sparse_id}'] .badge").nth(2)
    assert sparse.inner_text() == "Accuracy n/a (1 row)"
    assert sparse.get_attribute("class") == "badge unknown"
    week = page.page.locator(f"tr[data-deployment-id='{service.week_id}'] .badge").nth(2)
    _assert_badge_tells_its_judgement(
        week, _accuracy_api(service.url, service.week_id, SPANS["7d"])
    )
    page.screenshot("periods-overview-7d")
    assert page.errors == []
