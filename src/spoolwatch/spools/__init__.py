"""Spools: where records wait between the model and the agent.

One module per transport; the filesystem spool, which has several parts, is a package.
"""

from spoolwatch.spools.base import Backlog, Delivery, QuarantinedItem, Spool
from spoolwatch.spools.memory import MemorySpool
from spoolwatch.spools.registry import open_spool, transport_of

__all__ = [
    "Backlog",
    "Delivery",
    "MemorySpool",
    "QuarantinedItem",
    "Spool",
    "open_spool",
    "transport_of",
]
