"""The real stream: a model reporting the README tour's way, drained by the agent into the service.

Per scoring request the model (the demo's loan-default classifier, 8 numeric and 3
categorical features, binary with class names) calls the real :class:`spoolwatch.Reporter`
on a filesystem spool: ``report_deployment_stats`` and ``report_predictions_data`` of 25 rows
with association ids; every 3rd request it reports the actuals of another request — mostly
an earlier one, sometimes (about 1 in 7) one whose predictions come later. Four deployments
take turns, each created with training data so drift baselines exist. Writing the spool is
not timed.

The timed part is the real agent (``python -m spoolwatch agent run --until-empty --json``,
default settings) draining the spool into the real service (``python -m spoolwatch serve``,
auth on, a fresh database). *drain* is the agent's own run time (``elapsed`` in its JSON)
minus its final empty read (``batching.wait_seconds``, 0.5 s): agent start to last record
accepted. *exit* is the agent process's wall time, interpreter start-up included.

Every run is checked through the query API: each deployment's ``serviceStats`` requests and
predictions, ``targetDrift`` sample size, and ``accuracy`` joined rows, rows waiting for
actuals and actuals without predictions must be exactly what was reported; anything missing
or counted twice fails the benchmark.

The *easy* path runs in the same invocation, alternating with the real one: as many records
as the real stream, all 25-row prediction records of one deployment, without association
ids, stats or actuals. Targets: real ≥ 5,000 records/s and ≥ 0.5x easy::

    .venv/bin/python bench/real_stream.py                       # SQLite, and PostgreSQL
    .venv/bin/python bench/real_stream.py --only sqlite --requests 8600 --repeat 3  # ~20k records

``--sim-params FILE`` also writes the simulator's agent figures (see
:mod:`spoolwatch.sim.measured`) from the median real-stream SQLite run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from served import api, fresh_database, make_token, postgres_answers, serve
from sim_params import write_sim_params
from spoolwatch.demo.model import CATEGORICAL_FEATURES, CLASS_NAMES, ExampleModel
from spoolwatch.report import Reporter
from spoolwatch.spools.filesystem import FilesystemSpool
from spoolwatch.store.base import open_store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment
from spoolwatch.store.training import baseline_from_frame

ROWS = 25
DEPLOYMENTS = [f"650a1b2c3d4e5f6a7b8c9d{n:02x}" for n in range(4)]
MODEL = "650a1b2c3d4e5f6a7b8c9dff"
TARGET = "loan_status"
WAIT_SECONDS = 0.5  # the agent's default batching.wait_seconds: its final empty read
TARGET_RATE = 5_000
TARGET_RATIO = 0.5


@dataclass
class Expected:
    """What one deployment was sent: stats of scoring requests, prediction rows, and how many
    of those rows have their actuals (joined) or have none (waiting)."""

    stats_requests: int = 0
    rows: int = 0
    joined: int = 0
    waiting: int = 0


@dataclass
class Written:
    """A spool written for one run."""

    records: int = 0
    rows: int = 0
    deployments: dict[str, Expected] = field(default_factory=dict)


@dataclass
class Drain:
    """One timed drain."""

    stream: str
    backend: str
    records: int
    rows: int
    requests: int
    drain_seconds: float
    exit_seconds: float
    #: CPU seconds (user + system) the service process spent while the agent ran: steadier
    #: than wall time on a busy host, and what a second service process would not share.
    service_cpu: float = 0.0
    #: CPU seconds of the agent process, interpreter start-up included.
    agent_cpu: float = 0.0

    @property
    def rate(self) -> float:
        """Records per second, agent start to last accepted."""
        return self.records / self.drain_seconds


class CountingSpool(FilesystemSpool):
    """A filesystem spool that counts the records written to it."""

    written = 0

    def write(self, records: Any) -> None:
        super().write(records)
        self.written += len(records)


def create_deployments(url: str, ids: list[str]) -> None:
    """Binary deployments with class names and a baseline from the model's training data."""
    training = ExampleModel(seed=1).training_data(5_000)
    frame = pd.DataFrame({**training.features, TARGET: training.labels})
    baseline, classes = baseline_from_frame(
        frame,
        target=TARGET,
        target_type="binary",
        class_names=tuple(CLASS_NAMES),
        feature_types={name: "categorical" for name in CATEGORICAL_FEATURES},
    )
    store = open_store(url)
    try:
        for n, deployment_id in enumerate(ids):
            create_deployment(
                store,
                Deployment(
                    id=deployment_id,
                    name=f"bench {n}",
                    model_id=MODEL,
                    target_type="binary",
                    target_name=TARGET,
                    class_names=classes,
                    baseline=baseline,
                ),
            )
    finally:
        store.close()


class Traffic:
    """The scoring traffic of ``requests`` requests: features, probabilities, labels."""

    def __init__(self, requests: int, seed: int = 7) -> None:
        model = ExampleModel(seed=seed)
        batch = model.batch(requests * ROWS, drift=0.3)
        self.features = batch.features
        self.labels = batch.labels
        self.probabilities = model.predict(batch.features)

    def request(self, n: int) -> dict[str, list[Any]]:
        """Request ``n``'s feature columns."""
        start, end = n * ROWS, (n + 1) * ROWS
        return {name: values[start:end] for name, values in self.features.items()}

    def actuals(self, n: int) -> list[dict[str, Any]]:
        """Request ``n``'s actuals by association id."""
        labels = self.labels[n * ROWS : (n + 1) * ROWS]
        return [{"associationId": _ids(n)[i], "actualValue": y} for i, y in enumerate(labels)]


def _ids(n: int) -> list[str]:
    return [f"q{n:06d}-{row:02d}" for row in range(ROWS)]


def actuals_plan(requests: int, seed: int = 11) -> dict[int, int]:
    """After which request (key) the actuals of which request (value) are reported.

    Every 3rd request reports one; mostly a request a few back, sometimes one 2 ahead (its
    actuals then arrive before its predictions). Each request's actuals come at most once.
    """
    rng = random.Random(seed)
    plan: dict[int, int] = {}
    pending: deque[int] = deque()
    done: set[int] = set()
    for n in range(requests):
        if n not in done:
            pending.append(n)
        if n % 3 != 2:
            continue
        ahead = n + 2
        if rng.random() < 0.15 and ahead < requests:
            chosen = ahead
        else:
            chosen = pending[rng.randrange(min(5, len(pending)))]
        if chosen in pending:
            pending.remove(chosen)
        done.add(chosen)
        plan[n] = chosen
    return plan


def write_real(directory: str, requests: int) -> Written:
    """Report the real stream into the spool at ``directory``; what was sent, per deployment."""
    traffic = Traffic(requests)
    plan = actuals_plan(requests)
    spool = CountingSpool(directory, create=True)
    written = Written(deployments={d: Expected() for d in DEPLOYMENTS})
    rng = random.Random(3)
    with Reporter(spool, model_id=MODEL) as reporter:
        for n in range(requests):
            deployment = DEPLOYMENTS[n % len(DEPLOYMENTS)]
            reporter.report_deployment_stats(
                ROWS, round(rng.uniform(15, 40), 2), deployment_id=deployment
            )
            reporter.report_predictions_data(
                traffic.request(n),
                traffic.probabilities[n * ROWS : (n + 1) * ROWS],
                association_ids=_ids(n),
                class_names=list(CLASS_NAMES),
                deployment_id=deployment,
            )
            written.deployments[deployment].stats_requests += 1
            written.deployments[deployment].rows += ROWS
            if n in plan:
                earlier = plan[n]
                target = DEPLOYMENTS[earlier % len(DEPLOYMENTS)]
                reporter.report_actuals(traffic.actuals(earlier), deployment_id=target)
                written.deployments[target].joined += ROWS
    spool.close()
    for expected in written.deployments.values():
        expected.waiting = expected.rows - expected.joined
    written.records, written.rows = spool.written, requests * ROWS
    return written


def write_easy(directory: str, records: int) -> Written:
    """``records`` 25-row prediction records of one deployment, no association ids."""
    traffic = Traffic(records)
    spool = CountingSpool(directory, create=True)
    deployment = DEPLOYMENTS[0]
    with Reporter(spool, model_id=MODEL) as reporter:
        for n in range(records):
            reporter.report_predictions_data(
                traffic.request(n),
                traffic.probabilities[n * ROWS : (n + 1) * ROWS],
                class_names=list(CLASS_NAMES),
                deployment_id=deployment,
            )
    spool.close()
    return Written(spool.written, records * ROWS, {deployment: Expected(rows=records * ROWS)})


def run_agent(directory: str, base: str, token: str) -> tuple[dict[str, Any], float, float]:
    """Run ``spoolwatch agent run --until-empty --json`` on the spool; its result, wall time
    and CPU time (start-up included)."""
    folder = Path(tempfile.mkdtemp(prefix="spoolwatch-bench-agent-"))
    config = folder / "agent.yaml"
    config.write_text(
        f"target:\n  url: {base}\n  api_token_env: SPOOLWATCH_API_TOKEN\n"
        f"channels:\n  - name: bench\n    spool: {directory}\n"
        + os.environ.get("BENCH_AGENT_YAML", "").replace("\\n", "\n"),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "spoolwatch", "agent", "run", "--config", str(config)]
    command += ["--until-empty", "--json", "--log-level", "WARNING"]
    if profile := os.environ.get("SPOOLWATCH_BENCH_PYSPY_AGENT"):
        # Record the agent with py-spy (``pip install py-spy``): collapsed stacks.
        spy = ["py-spy", "record", "--gil", "-r", "200", "-f", "raw", "-o", profile, "--"]
        command = spy + command
    env = {**os.environ, "SPOOLWATCH_API_TOKEN": token}
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"agent exited {done.returncode}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall, cpu


def _totals(client: Any, deployment: str) -> dict[str, int]:
    path = f"/api/v2/deployments/{deployment}"
    stats = client.get(f"{path}/serviceStats/").raise_for_status().json()["metrics"]
    target = client.get(f"{path}/targetDrift/").raise_for_status().json()
    accuracy = client.get(f"{path}/accuracy/").raise_for_status().json()
    return {
        "serviceStats totalRequests": stats["totalRequests"],
        "serviceStats totalPredictions": stats["totalPredictions"],
        "targetDrift sampleSize": target["sampleSize"],
        "accuracy sampleSize": accuracy["sampleSize"],
        "accuracy predictionsWithoutActuals": accuracy["predictionsWithoutActuals"],
        "accuracy actualsWithoutPredictions": accuracy["actualsWithoutPredictions"],
    }


def verify(base: str, token: str, written: Written) -> None:
    """Exact totals through the query API, or :class:`SystemExit` naming what differs."""
    problems = []
    with api(base, token) as client:
        for deployment, expected in written.deployments.items():
            got = _totals(client, deployment)
            want = {
                "serviceStats totalRequests": expected.stats_requests,
                "serviceStats totalPredictions": expected.stats_requests * ROWS,
                "targetDrift sampleSize": expected.rows,
                "accuracy sampleSize": expected.joined,
                "accuracy predictionsWithoutActuals": expected.waiting,
                "accuracy actualsWithoutPredictions": 0,
            }
            problems += [
                f"{deployment} {name}: expected {want[name]}, the service has {got[name]}"
                for name in want
                if got[name] != want[name]
            ]
    if problems:
        raise SystemExit("totals differ (missing or double-counted):\n  " + "\n  ".join(problems))


def run_once(stream: str, backend: str, requests: int, records: int) -> tuple[Drain, Written]:
    """Write one spool, drain it into a fresh service, verify; the timed drain."""
    with tempfile.TemporaryDirectory(prefix="spoolwatch-bench-spool-") as directory:
        if stream == "real":
            written = write_real(directory, requests)
        else:
            written = write_easy(directory, records)
        with fresh_database(backend) as url:
            create_deployments(url, list(written.deployments))
            token = make_token(url)
            with serve(url, token) as service:
                cpu = service.cpu_seconds()
                result, wall, agent_cpu = run_agent(directory, service.base, token)
                cpu = service.cpu_seconds() - cpu
                if result["records_sent"] != written.records:
                    raise SystemExit(
                        f"{stream}: wrote {written.records} records, the agent sent "
                        f"{result['records_sent']} ({result})"
                    )
                verify(service.base, token, written)
    drain = max(1e-6, float(result["elapsed"]) - WAIT_SECONDS)
    figures = Drain(
        stream,
        backend,
        written.records,
        written.rows,
        result["requests"],
        drain,
        wall,
        cpu,
        agent_cpu,
    )
    return figures, written


def _line(run: int, drain: Drain) -> str:
    return (
        f"{drain.backend:<10} {run:>3} {drain.stream:<5} {drain.records:>8,} {drain.rows:>10,} "
        f"{drain.requests:>9,} {drain.drain_seconds:>8.2f} {drain.rate:>10,.0f} "
        f"{drain.rows / drain.drain_seconds:>10,.0f} {drain.exit_seconds:>7.2f} "
        f"{drain.records / drain.exit_seconds:>10,.0f} "
        f"{drain.service_cpu * 1e6 / drain.records:>10,.0f} "
        f"{drain.agent_cpu * 1e6 / drain.records:>12,.0f}"
    )


def _header() -> str:
    return (
        f"{'backend':<10} {'run':>3} {'path':<5} {'records':>8} {'pred rows':>10} "
        f"{'HTTP reqs':>9} {'drain s':>8} {'records/s':>10} {'rows/s':>10} {'exit s':>7} "
        f"{'rec/s exit':>10} {'svc us/rec':>10} {'agent us/rec':>12}"
    )


def _summary(backend: str, drains: list[Drain]) -> None:
    rates = {s: [d.rate for d in drains if d.stream == s] for s in ("real", "easy")}
    real, easy = statistics.median(rates["real"]), statistics.median(rates["easy"])
    ratio = real / easy
    print(f"\n{backend}: records/s, agent start -> last accepted (min / median of each path)")
    for stream, values in rates.items():
        print(f"  {stream:<5} {min(values):>10,.0f} / {statistics.median(values):>10,.0f}")
    met_rate = "met" if real >= TARGET_RATE else "NOT met"
    met_ratio = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"  real stream median {real:,.0f} records/s; target >= {TARGET_RATE:,}: {met_rate}")
    print(f"  ratio real/easy (medians) {ratio:.2f}x; target >= {TARGET_RATIO}x: {met_ratio}")


def bench_backend(backend: str, requests: int, repeat: int) -> list[Drain]:
    """Alternate real and easy runs ``repeat`` times on ``backend``; print each and a summary."""
    drains: list[Drain] = []
    records = 0
    print(f"\n{_header()}")
    for run in range(1, repeat + 1):
        for stream in ("real", "easy"):
            drain, written = run_once(stream, backend, requests, records)
            records = records or written.records
            drains.append(drain)
            print(_line(run, drain), flush=True)
    _summary(backend, drains)
    return drains


def main() -> None:
    """Parse arguments and run the chosen backends."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000, help="scoring requests (real)")
    parser.add_argument("--repeat", type=int, default=2, help="real/easy pairs per backend")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument(
        "--sim-params", type=Path, help="write the simulator's agent figures to this JSON file"
    )
    args = parser.parse_args()
    print(
        f"real stream: {args.requests:,} scoring requests over {len(DEPLOYMENTS)} deployments "
        f"taking turns; per request DEPLOYMENT_STATS + PREDICTIONS_DATA ({ROWS} rows, 8 numeric "
        f"+ 3 categorical features, binary probabilities, association ids); every 3rd request "
        f"ACTUALS_DATA ({ROWS} rows) of another request (some before their predictions).\n"
        f"easy path: as many records, all PREDICTIONS_DATA of one deployment, no association "
        f"ids.\nfilesystem spool -> `spoolwatch agent run --until-empty` (default settings) -> "
        f"`spoolwatch serve` (auth on, fresh database per run); totals verified by the query "
        f"API after every run.\ndrain s = agent start -> last record accepted (agent's elapsed "
        f"minus its final {WAIT_SECONDS} s empty read); exit s = agent process wall time "
        f"(interpreter start-up included); svc us/rec = the service process's CPU time "
        f"(user + system) while the agent ran, per record; agent us/rec = the agent "
        f"process's, start-up included."
    )
    measured: list[Drain] = []
    for backend in args.only or ["sqlite", "postgresql"]:
        if backend == "postgresql" and (why := postgres_answers()) is not None:
            print(f"\npostgresql: skipped ({why})")
            continue
        drains = bench_backend(backend, args.requests, args.repeat)
        measured = measured or drains
    if args.sim_params is not None and measured:
        write_sim_params(args.sim_params, measured, sys.argv[1:])


if __name__ == "__main__":
    main()
