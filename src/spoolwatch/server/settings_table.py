"""Every setting of ``spoolwatch serve``, written once: :data:`SERVE_SETTINGS`.

From this table ``spoolwatch serve`` makes its options (typer reads the variables; a flag wins
over its variable), :meth:`ServerSettings.from_env
<spoolwatch.server.settings.ServerSettings.from_env>` reads the variables,
:class:`~spoolwatch.server.settings.ServerSettings` takes its defaults and checks its values,
and :func:`markdown_table` is the README's table "Configuring the service" (a test compares
them). Names that the Lambda agents and ``spoolwatch fleet`` read too
(``SPOOLWATCH_DATA_QUEUE_URL``, ...) and DataRobot-style ones already in use stay as they are.
The address is ``SPOOLWATCH_LISTEN_HOST`` and ``SPOOLWATCH_LISTEN_PORT``: Kubernetes sets
``SPOOLWATCH_PORT=tcp://...`` in every pod of a namespace with a Service called
``spoolwatch`` (``deploy/kubernetes``), which would otherwise be read as the port.
"""

from __future__ import annotations

from spoolwatch.monitoring.metrics import DRIFT_METRICS
from spoolwatch.server.setting import Setting

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "LOG_LEVELS",
    "SERVE_SETTINGS",
    "SERVICE_SETTINGS",
    "markdown_table",
    "setting",
]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

#: uvicorn's log levels.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

_NETWORK = "Network"
_SERVICE = "Service"
_ALERTS = "Alerts"
_HEALTH = "Health thresholds"
_FLEET = "Serverless fleet"
_LOGGING = "Logging"

# One setting per block, not one argument per line as the formatter would have it.
# fmt: off
SERVE_SETTINGS: tuple[Setting, ...] = (
    # Network: how the process listens; not part of ServerSettings.
    Setting(
        name="host", flag="--host", env="SPOOLWATCH_LISTEN_HOST", kind=str, default="127.0.0.1",
        panel=_NETWORK, service=False, help="Address to bind.",
    ),
    Setting(
        name="port", flag="--port", env="SPOOLWATCH_LISTEN_PORT", kind=int, default=8080,
        panel=_NETWORK, service=False, minimum=1, maximum=65535, help="Port to listen on.",
    ),
    Setting(
        name="workers", flag="--workers", env="SPOOLWATCH_WORKERS", kind=int, default=1,
        panel=_NETWORK, service=False, minimum=1,
        help="Service processes sharing the port (PostgreSQL only): each folds with its own "
        "group-commit writer; the per-deployment lock keeps totals exact.",
    ),
    Setting(
        name="shutdown_timeout", flag="--shutdown-timeout", env="SPOOLWATCH_SHUTDOWN_TIMEOUT",
        kind=int, default=30, panel=_NETWORK, service=False, minimum=0,
        help="On SIGTERM or Ctrl-C: stop accepting connections, finish the requests held for "
        "at most this many seconds, then commit what waits and exit.",
    ),
    # Service
    Setting(
        name="db_url", flag="--db", env="SPOOLWATCH_DB", kind=str, default=None, optional=True,
        secret=True, panel=_SERVICE,
        help="Database URL: sqlite:///path.db (default ./spoolwatch-data/spoolwatch.db) or "
        "postgresql://user@host/db.",
    ),
    Setting(
        name="auth", flag="--auth", env="SPOOLWATCH_AUTH", kind=bool, default=True,
        panel=_SERVICE,
        help="Check API tokens; --no-auth accepts calls without one (loopback addresses only).",
    ),
    Setting(
        name="max_body_bytes", flag="--max-body-bytes", env="SPOOLWATCH_MAX_BODY_BYTES",
        kind=int, default=DEFAULT_MAX_BODY_BYTES, panel=_SERVICE, minimum=1024,
        help="Largest request body accepted, in bytes (16 MiB).",
    ),
    Setting(
        name="cache_seconds", flag="--cache-seconds", env="SPOOLWATCH_CACHE_SECONDS",
        kind=float, default=5.0, panel=_SERVICE, minimum=0,
        help="A token's check and a deployment's settings are reused this long before they "
        "are read again (a revoked token stops working within it; 0: read every time).",
    ),
    Setting(
        name="dashboard", flag="--dashboard", env="SPOOLWATCH_DASHBOARD", kind=bool,
        default=True, panel=_SERVICE, help="Serve the dashboard's pages at /.",
    ),
    # Alerts
    Setting(
        name="webhook_url", flag="--webhook-url", env="SPOOLWATCH_WEBHOOK_URL", kind=str,
        default=None, optional=True, url=True, secret=True, panel=_ALERTS,
        help="POST a JSON alert here when a deployment turns yellow or red.",
    ),
    Setting(
        name="alert_period_seconds", flag="--alert-period-seconds",
        env="SPOOLWATCH_ALERT_PERIOD_SECONDS", kind=int, default=3600, panel=_ALERTS, minimum=1,
        help="At most one alert per deployment, check and status in each period this long.",
    ),
    Setting(
        name="alert_check_seconds", flag="--alert-check-seconds",
        env="SPOOLWATCH_ALERT_CHECK_SECONDS", kind=float, default=10.0, panel=_ALERTS,
        minimum=0,
        help="A deployment's statuses are re-evaluated at most this often as its records "
        "arrive (0: after every ingestion).",
    ),
    Setting(
        name="alert_window_seconds", flag="--alert-window-seconds",
        env="SPOOLWATCH_ALERT_WINDOW_SECONDS", kind=int, default=3600, panel=_ALERTS,
        minimum=1, help="Alerts judge the statuses of this many seconds before now.",
    ),
    # Health thresholds
    Setting(
        name="drift_metric", flag="--drift-metric", env="SPOOLWATCH_DRIFT_METRIC", kind=str,
        default="psi", panel=_HEALTH, choices=tuple(sorted(DRIFT_METRICS)),
        help="Drift metric of statuses and alerts, and the API's default.",
    ),
    Setting(
        name="error_rate_yellow", flag="--error-rate-yellow",
        env="SPOOLWATCH_ERROR_RATE_YELLOW", kind=float, default=0.05, panel=_HEALTH, above=0,
        maximum=1, help="Service health turns yellow when this share of requests failed.",
    ),
    Setting(
        name="error_rate_red", flag="--error-rate-red", env="SPOOLWATCH_ERROR_RATE_RED",
        kind=float, default=0.2, panel=_HEALTH, above=0, maximum=1,
        help="Service health turns red when this share of requests failed.",
    ),
    Setting(
        name="accuracy_yellow", flag="--accuracy-yellow", env="SPOOLWATCH_ACCURACY_YELLOW",
        kind=float, default=0.10, panel=_HEALTH, above=0, maximum=1,
        help="Accuracy turns yellow when its metric is this much worse than the reference "
        "(relative: 0.1 = 10 %), unless the deployment has its own thresholds.",
    ),
    Setting(
        name="accuracy_red", flag="--accuracy-red", env="SPOOLWATCH_ACCURACY_RED", kind=float,
        default=0.20, panel=_HEALTH, above=0, maximum=1,
        help="Accuracy turns red when its metric is this much worse than the reference.",
    ),
    Setting(
        name="accuracy_min_rows", flag="--accuracy-min-rows", env="SPOOLWATCH_ACCURACY_MIN_ROWS",
        kind=int, default=100, panel=_HEALTH, minimum=2,
        help="Accuracy is unknown with fewer joined predictions and actuals than this.",
    ),
    Setting(
        name="accuracy_reference_rows", flag="--accuracy-reference-rows",
        env="SPOOLWATCH_ACCURACY_REFERENCE_ROWS", kind=int, default=500, panel=_HEALTH,
        minimum=2,
        help="The reference is measured on a deployment's first this many joined rows (at "
        "least --accuracy-min-rows).",
    ),
    Setting(
        name="agent_stale_seconds", flag="--agent-stale-seconds",
        env="SPOOLWATCH_AGENT_STALE_SECONDS", kind=float, default=120.0, panel=_HEALTH, above=0,
        help="An agent without a heartbeat for this long is shown stale.",
    ),
    # Serverless fleet: the names `spoolwatch fleet` and the Lambda agents read too.
    Setting(
        name="fleet_data_queue_url", flag="--fleet-data-queue", env="SPOOLWATCH_DATA_QUEUE_URL",
        kind=str, default=None, optional=True, panel=_FLEET,
        help="The SQS data queue URL (with --fleet-agent-queue and --fleet-table, the agents "
        "page shows the fleet).",
    ),
    Setting(
        name="fleet_agent_queue_url", flag="--fleet-agent-queue",
        env="SPOOLWATCH_AGENT_QUEUE_URL", kind=str, default=None, optional=True, panel=_FLEET,
        help="The SQS agent queue URL.",
    ),
    Setting(
        name="fleet_table", flag="--fleet-table", env="SPOOLWATCH_STATE_TABLE", kind=str,
        default=None, optional=True, panel=_FLEET, help="The DynamoDB state table.",
    ),
    Setting(
        name="fleet_target_concurrency", flag="--fleet-target-concurrency",
        env="SPOOLWATCH_TARGET_CONCURRENCY", kind=int, default=10, panel=_FLEET, minimum=1,
        help="Lease slots.",
    ),
    Setting(
        name="fleet_cache_seconds", flag="--fleet-cache-seconds",
        env="SPOOLWATCH_FLEET_CACHE_SECONDS", kind=float, default=5.0, panel=_FLEET, minimum=0,
        help="A reading of the queues and the table is reused this long (0: read every time).",
    ),
    # Logging: how the process writes its log; not part of ServerSettings.
    Setting(
        name="log_level", flag="--log-level", env="SPOOLWATCH_LOG_LEVEL", kind=str,
        default="info", panel=_LOGGING, service=False, choices=LOG_LEVELS,
        help="uvicorn's log level, and the service's own with --log-format json.",
    ),
    Setting(
        name="log_format", flag="--log-format", env="SPOOLWATCH_LOG_FORMAT", kind=str,
        default="text", panel=_LOGGING, service=False, choices=("text", "json"),
        help="text, or json: one JSON object per line on stderr (time, level, logger, "
        "message, exception) for the service, uvicorn and its access log, at --log-level.",
    ),
)
# fmt: on

#: The settings that are :class:`~spoolwatch.server.settings.ServerSettings` fields.
SERVICE_SETTINGS: tuple[Setting, ...] = tuple(s for s in SERVE_SETTINGS if s.service)

_BY_NAME = {s.name: s for s in SERVE_SETTINGS}


def setting(name: str) -> Setting:
    """The setting called ``name`` (a ``spoolwatch serve`` option or ``ServerSettings`` field)."""
    return _BY_NAME[name]


def _default_text(entry: Setting) -> str:
    if entry.default is None:
        return "not set"
    if entry.kind is bool:
        return "true" if entry.default else "false"
    return f"`{entry.default}`"


def markdown_table() -> str:
    """The README's table of the settings: flag, variable, default, meaning."""
    lines = ["| Flag | Variable | Default | Meaning |", "| --- | --- | --- | --- |"]
    for entry in SERVE_SETTINGS:
        flag = f"`{entry.flag}`"
        if entry.kind is bool:
            flag += f" / `--no-{entry.flag[2:]}`"
        meaning = entry.full_help.replace("|", "\\|")
        lines.append(f"| {flag} | `{entry.env}` | {_default_text(entry)} | {meaning} |")
    return "\n".join(lines) + "\n"
