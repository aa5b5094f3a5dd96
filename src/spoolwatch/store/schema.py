"""The store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Statistics are kept as mergeable aggregates per deployment, model and hour (``hour`` is the
hour's start in Unix seconds, UTC), so a query over any period reads a few rows per hour
however much traffic came in. Aggregates are the JSON forms of ``spoolwatch.monitoring``'s
mergeable objects; their bins are fixed by the deployment's baseline.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "accuracy_hourly",
    "accuracy_orphans",
    "accuracy_rows",
    "agent_heartbeats",
    "alert_state",
    "api_tokens",
    "custom_metric_hourly",
    "deployments",
    "drift_hourly",
    "events",
    "idempotency_keys",
    "ingested_records",
    "metadata",
    "schema_version",
    "service_hourly",
    "status_jobs",
]

metadata = MetaData()

#: One row per applied migration.
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    # sha256 of the token; the token itself is shown once and never stored
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    # ingest, read or admin (spoolwatch.store.tokens.TokenScope); migration 6 added it
    Column("scope", String(16), nullable=False, server_default="admin"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("model_id", String(64), nullable=False),
    Column("target_type", String(20), nullable=False),
    Column("target_name", String(200), nullable=True),
    Column("class_names", Text, nullable=True),  # JSON list
    Column("baseline", Text, nullable=True),  # JSON of monitoring's Baseline
    Column("created_at", Float, nullable=False),
    Column("accuracy", Text, nullable=True),  # JSON of AccuracySettings (migration 3)
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("path", String(300), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("location", String(300), nullable=True),
    Column("created_at", Float, nullable=False),
)

ingested_records = Table(
    "ingested_records",
    metadata,
    Column("record_id", String(200), primary_key=True),
    Column("deployment_id", String(24), nullable=True),
    Column("created_at", Float, nullable=False),
)

status_jobs = Table(
    "status_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("deployment_id", String(24), nullable=False),
    Column("created_at", Float, nullable=False),
)

#: ServiceHealth aggregates (JSON of ``ServiceHealth.to_dict()``).
service_hourly = Table(
    "service_hourly",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("predictions", BigInteger, nullable=False),
    Column("health", Text, nullable=False),
)

#: Drift histograms (JSON of ``DriftAggregate.to_dict()``: counts per feature and of the
#: predictions over the deployment's baseline bins) plus row counts and the prediction sum.
drift_hourly = Table(
    "drift_hourly",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("rows", BigInteger, nullable=False),
    Column("prediction_rows", BigInteger, nullable=False),
    Column("prediction_sum", Float, nullable=False),
    Column("aggregate", Text, nullable=False),
)

#: Predictions and actuals joined by association id, whichever arrives first, in compact
#: form (see :mod:`spoolwatch.store.accuracy_columns`; migration 4 converted the JSON columns).
accuracy_rows = Table(
    "accuracy_rows",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("association_id", String(200), primary_key=True),
    Column("model_id", String(64), nullable=True),
    Column("predicted_at", BigInteger, nullable=True),  # Unix seconds
    # Regression value, or a binary model's probability of class_names[1].
    Column("predicted_value", Float, nullable=True),
    # Multiclass probabilities in the deployment's class order, little-endian float64.
    Column("probabilities", LargeBinary, nullable=True),
    Column("actual_label", Text, nullable=True),  # the actual as text; set for every actual
    Column("actual_value", Float, nullable=True),  # the actual when it is a number
    Column("actual_at", BigInteger, nullable=True),
    Column("was_acted_on", Boolean, nullable=True),
)

#: Accuracy aggregates of the joined pairs by the hour of their prediction (JSON of
#: ``AccuracyAggregate.to_dict()``; see :mod:`spoolwatch.store.accuracy_stored`, migration 7
#: built them for the rows stored before). An hour's prediction count is ``predicted`` plus
#: the JSON's own ``predicted`` (0 since migration 8): new predictions are added to the
#: column without reading the JSON.
accuracy_hourly = Table(
    "accuracy_hourly",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("predicted", BigInteger, nullable=False, server_default="0"),
    Column("aggregate", Text, nullable=False),
)

#: How many of a deployment's actuals have no prediction yet (its ``accuracy_rows`` without
#: ``predicted_at``), kept by every write so the accuracy read counts nothing (migration 9
#: counted the rows stored before).
accuracy_orphans = Table(
    "accuracy_orphans",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("actuals", BigInteger, nullable=False),
)

custom_metric_hourly = Table(
    "custom_metric_hourly",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("metric_id", String(64), primary_key=True),
    Column("model_id", String(64), primary_key=True),  # "" for deployment-level metrics
    Column("hour", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("value_sum", Float, nullable=False),
    Column("last_value", Float, nullable=False),
    Column("last_at", Float, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", String(24), nullable=True, index=True),
    Column("at", Float, nullable=False),
    Column("timestamp", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("org_id", String(64), nullable=True),
    Column("data", Text, nullable=True),
)

agent_heartbeats = Table(
    "agent_heartbeats",
    metadata,
    Column("agent_id", String(200), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("body", Text, nullable=False),
)

#: The last status an alert was sent for, per deployment, check and period.
alert_state = Table(
    "alert_state",
    metadata,
    Column("deployment_id", String(24), primary_key=True),
    Column("check_name", String(50), primary_key=True),
    Column("period", BigInteger, primary_key=True),
    Column("status", String(10), nullable=False),
    Column("sent_at", Float, nullable=False),
)
