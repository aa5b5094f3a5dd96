"""Persistence of the monitoring service (SQLAlchemy Core): SQLite by default, PostgreSQL.

``open_store(url)`` opens and migrates a database; the modules of this package hold the
tables (:mod:`~spoolwatch.store.schema`), the migrations, tokens, deployments, training-data
baselines and the folding of ingested bodies into hourly aggregates. Needs the ``server``
extra (``pip install 'spoolwatch[server]'``).
"""

from spoolwatch.store.base import Store, StoreUnavailable, open_store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.engine import DEFAULT_DB_URL, create_engine

__all__ = [
    "DEFAULT_DB_URL",
    "Deployment",
    "Store",
    "StoreUnavailable",
    "create_engine",
    "open_store",
]
