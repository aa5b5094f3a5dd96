"""``spoolwatch demo``: the whole system on 127.0.0.1 with the embedded defaults.

The service (SQLite) runs in a background thread; a deployment is created through its API
with generated training data; the example model reports a simulated day of traffic into a
filesystem spool; an in-process :class:`~spoolwatch.agent.Agent` drains the spool into the
service over HTTP (and keeps sending heartbeats while the demo serves). The summary compares
what was written, sent and received, and asks the service for drift and accuracy before and
after the drift started.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from spoolwatch.agent import Agent, AgentConfig, AgentResult, ChannelConfig, TargetConfig
from spoolwatch.demo.model import (
    CATEGORICAL_FEATURES,
    CLASS_NAMES,
    DRIFTED_FEATURES,
    ExampleModel,
)
from spoolwatch.demo.service import LocalService, port_is_free
from spoolwatch.demo.traffic import SimulatedDay, TrafficPlan, TrafficTotals
from spoolwatch.errors import ConfigError, SpoolwatchError
from spoolwatch.report import Reporter
from spoolwatch.spools.filesystem import FilesystemSpool

__all__ = ["Demo", "DemoOptions", "DemoSummary", "FeatureOutcome"]

logger = logging.getLogger(__name__)

TARGET = "loan_status"
AGENT_ID = "demo-agent"
_DRAIN_TIMEOUT = 120.0


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """What ``spoolwatch demo`` was asked to do."""

    port: int = 8080
    data_dir: Path | None = None
    #: Keep the temporary folder when the demo stops (a ``data_dir`` is always kept).
    keep: bool = False
    rows: int = 12_000
    training_rows: int = 5_000
    hours: int = 24
    seed: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 1 and 65535, got {self.port}")
        if self.rows < 200:
            raise ConfigError(f"--rows must be at least 200, got {self.rows}")
        if self.hours < 6:
            raise ConfigError(f"hours must be at least 6, got {self.hours}")


@dataclass(frozen=True)
class FeatureOutcome:
    """A feature's drift status before and after the drift started (from the service)."""

    name: str
    drifted: bool
    before: str
    after: str
    score_after: float | None


@dataclass
class DemoSummary:
    """What the demo did, for the summary table and the tests."""

    url: str
    deployment_id: str
    data_dir: Path
    traffic: TrafficTotals
    #: False when the data folder is temporary and goes when the demo stops.
    data_kept: bool = True
    records_written: int = 0
    records_sent: int = 0
    records_received: int = 0
    quarantined: int = 0
    features: list[FeatureOutcome] = field(default_factory=list)
    drift_status_before: str = "unknown"
    drift_status_after: str = "unknown"
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    accuracy_status_before: str = "unknown"
    accuracy_status_after: str = "unknown"
    accuracy_reference: float | None = None
    #: The deployment's health over the last day: {"service"|"model"|"accuracy": {status, message}}
    health: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Target drift over the last day: status, whole-day score, worst drifting hour, hours.
    target_drift: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (for ``spoolwatch demo --json``)."""
        data = asdict(self)
        data["data_dir"] = str(self.data_dir)
        data["dashboard"] = f"{self.url}/"
        return data


class Demo:
    """Runs the demo; :meth:`run` leaves the service and the agent running until
    :meth:`stop`."""

    def __init__(self, options: DemoOptions, progress: Callable[[str], None] | None = None) -> None:
        self.options = options
        self._progress = progress or (lambda message: None)
        self.data_dir = self._make_data_dir()
        self.service: LocalService | None = None
        self.agent: Agent | None = None
        self._agent_thread: threading.Thread | None = None
        self._agent_result: AgentResult | None = None
        self._store: Any = None

    @property
    def removes_data(self) -> bool:
        """Whether :meth:`stop` removes the data folder: a temporary one not asked to be kept."""
        return self.options.data_dir is None and not self.options.keep

    def _make_data_dir(self) -> Path:
        if self.options.data_dir is None:
            return Path(tempfile.mkdtemp(prefix="spoolwatch-demo-"))
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run_dir = self.options.data_dir.expanduser().resolve() / f"demo-{stamp}"
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise ConfigError(f"--data-dir: {run_dir} already exists; retry in a second") from None
        except OSError as exc:
            raise ConfigError(f"--data-dir: cannot create {run_dir}: {exc}") from exc
        return run_dir

    @property
    def url(self) -> str:
        """The service's (and dashboard's) base URL."""
        return f"http://127.0.0.1:{self.options.port}"

    def run(self) -> DemoSummary:
        """Start everything, report the traffic, drain it; return the summary."""
        seconds: dict[str, float] = {}
        began = time.perf_counter()
        if not port_is_free(self.options.port):
            raise ConfigError(
                f"port {self.options.port} on 127.0.0.1 is already in use; "
                "choose another with --port"
            )
        self._start_service()
        seconds["service"] = time.perf_counter() - began
        model = ExampleModel(seed=self.options.seed)
        mark = time.perf_counter()
        deployment_id, model_id = self._create_deployment(model)
        seconds["deployment"] = time.perf_counter() - mark
        spool_dir = self.data_dir / "spool"
        spool_dir.mkdir()
        end = datetime.now(UTC)
        plan = TrafficPlan(rows=self.options.rows, hours=self.options.hours)
        day = SimulatedDay(model, plan, end, seed=self.options.seed)
        mark = time.perf_counter()
        written = self._report(day, spool_dir, deployment_id, model_id)
        seconds["model"] = time.perf_counter() - mark
        mark = time.perf_counter()
        self._start_agent(spool_dir)
        sent, quarantined = self._wait_until_drained(written)
        seconds["agent"] = time.perf_counter() - mark
        summary = DemoSummary(
            url=self.url,
            deployment_id=deployment_id,
            data_dir=self.data_dir,
            data_kept=not self.removes_data,
            traffic=day.totals,
            records_written=written,
            records_sent=sent,
            records_received=self._records_received(),
            quarantined=quarantined,
        )
        mark = time.perf_counter()
        self._drift_and_accuracy(summary, day, plan, end)
        seconds["queries"] = time.perf_counter() - mark
        seconds["total"] = time.perf_counter() - began
        summary.seconds = seconds
        return summary

    # -- steps ------------------------------------------------------------------------------

    def _start_service(self) -> None:
        from spoolwatch.server.app import create_app
        from spoolwatch.server.settings import ServerSettings

        db_url = f"sqlite:///{self.data_dir / 'spoolwatch.db'}"
        # No tokens: the service listens on 127.0.0.1 only, like `spoolwatch serve --no-auth`.
        settings = ServerSettings(db_url=db_url, auth=False)
        app = create_app(settings=settings)
        self._store = app.state.store
        self.service = LocalService(app, self.options.port)
        self._progress(f"starting the service on {self.url} (SQLite in {self.data_dir})")
        self.service.start()

    def _create_deployment(self, model: ExampleModel) -> tuple[str, str]:
        training = model.training_data(self.options.training_rows)
        body = {
            "label": "Loan default (demo)",
            "targetType": "binary",
            "targetName": TARGET,
            "classNames": list(CLASS_NAMES),
            "trainingData": {**training.features, TARGET: training.labels},
            "featureTypes": {name: "categorical" for name in CATEGORICAL_FEATURES},
        }
        response = httpx.post(f"{self.url}/api/v2/deployments/", json=body, timeout=60)
        if response.status_code != 201:
            raise SpoolwatchError(
                f"creating the demo deployment failed: HTTP {response.status_code} "
                f"{response.text[:300]}"
            )
        created = response.json()
        self._progress(
            f"created deployment {created['id']} with {training.rows} rows of training data"
        )
        return str(created["id"]), str(created["modelId"])

    def _report(self, day: SimulatedDay, spool_dir: Path, deployment_id: str, model_id: str) -> int:
        self._progress(
            f"the example model reports {self.options.hours} simulated hours of traffic "
            f"({self.options.rows} rows) into the spool {spool_dir}"
        )
        spool = FilesystemSpool(str(spool_dir))
        try:
            with Reporter(
                spool, deployment_id=deployment_id, model_id=model_id, clock=day.clock
            ) as reporter:
                day.run(reporter)
            written = spool.backlog().total
        finally:
            spool.close()
        self._progress(f"the spool holds {written} records")
        return written

    def _start_agent(self, spool_dir: Path) -> None:
        config = AgentConfig(
            target=TargetConfig(url=self.url),
            channels=(ChannelConfig(name="demo-spool", address=str(spool_dir)),),
            agent_id=AGENT_ID,
            heartbeat_interval_seconds=5.0,
            stats_interval_seconds=5.0,
        )
        self.agent = Agent(config)
        agent = self.agent

        def drain() -> None:
            self._agent_result = agent.run()

        self._agent_thread = threading.Thread(target=drain, name="spoolwatch-demo-agent")
        self._agent_thread.daemon = True
        self._agent_thread.start()
        self._progress("the agent drains the spool into the service")

    def _wait_until_drained(self, written: int) -> tuple[int, int]:
        assert self.agent is not None
        deadline = time.monotonic() + _DRAIN_TIMEOUT
        while True:
            counts = [s.as_dict() for s in self.agent.stats.values()]
            sent = sum(c["sent"] for c in counts)
            quarantined = sum(c["quarantined"] for c in counts)
            done = sent + quarantined + sum(c["skipped"] for c in counts)
            if done >= written:
                return sent, quarantined
            if self._agent_thread is not None and not self._agent_thread.is_alive():
                raise SpoolwatchError(f"the agent stopped early: {self._agent_result}")
            if time.monotonic() > deadline:
                raise SpoolwatchError(
                    f"the agent handled {done} of {written} records in {_DRAIN_TIMEOUT:.0f} s"
                )
            time.sleep(0.05)

    def _records_received(self) -> int:
        from spoolwatch.store import schema as tables

        with self._store.read() as conn:
            count = conn.execute(
                select(func.count()).select_from(tables.ingested_records)
            ).scalar_one()
        return int(count)

    def _query(self, path: str, start: datetime, end: datetime) -> dict[str, Any]:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        response = httpx.get(f"{self.url}{path}", params=params, timeout=60)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def _drift_and_accuracy(
        self, summary: DemoSummary, day: SimulatedDay, plan: TrafficPlan, end: datetime
    ) -> None:
        base = f"/api/v2/deployments/{summary.deployment_id}"
        drift_start, drift_full = plan.drift_start(end), plan.drift_full(end)
        before = self._query(f"{base}/featureDrift/", day.start, drift_start)
        after = self._query(f"{base}/featureDrift/", drift_full, end)
        after_by_name = {f["name"]: f for f in after["data"]}
        summary.features = [
            FeatureOutcome(
                name=f["name"],
                drifted=f["name"] in DRIFTED_FEATURES,
                before=f["status"],
                after=after_by_name.get(f["name"], {}).get("status", "unknown"),
                score_after=after_by_name.get(f["name"], {}).get("driftScore"),
            )
            for f in before["data"]
        ]
        summary.drift_status_before = before["status"]
        summary.drift_status_after = after["status"]
        acc_before = self._query(f"{base}/accuracy/", day.start, drift_start)
        acc_after = self._query(f"{base}/accuracy/", drift_full, end)
        summary.accuracy_before = _metric(acc_before, "accuracy")
        summary.accuracy_after = _metric(acc_after, "accuracy")
        summary.accuracy_status_before = acc_before.get("status", "unknown")
        summary.accuracy_status_after = acc_after.get("status", "unknown")
        summary.accuracy_reference = (
            acc_after.get("metrics", {}).get("accuracy", {}).get("baselineValue")
        )
        self._last_day(summary, base)

    def _last_day(self, summary: DemoSummary, base: str) -> None:
        """The deployment's health and target drift over the last day, as the dashboard shows."""
        deployment = httpx.get(f"{self.url}{base}/", timeout=60).json()
        summary.health = {
            name: deployment.get(f"{name}Health") or {} for name in ("service", "model", "accuracy")
        }
        response = httpx.get(f"{self.url}{base}/targetDrift/", params={"bucketSize": "PT1H"})
        target = response.json() if response.status_code == 200 else {}
        summary.target_drift = {
            key: target.get(key) for key in ("status", "driftScore", "peakDriftScore")
        }
        summary.target_drift["driftingHours"] = target.get("driftingHours", 0)

    # -- life cycle -------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Block while the service runs (until Ctrl-C or :meth:`stop`)."""
        if self.service is not None:
            self.service.wait()

    def stop(self) -> None:
        """Stop the agent (graceful) and then the service."""
        if self.agent is not None:
            self.agent.stop("demo finished")
        if self._agent_thread is not None:
            self._agent_thread.join(15)
        if self.service is not None:
            self.service.stop()
            self.service = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.removes_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _metric(report: dict[str, Any], name: str) -> float | None:
    value = report.get("metrics", {}).get(name, {}).get("value")
    return float(value) if value is not None else None
