"""Where the agent delivers records: ``http`` (DataRobot REST paths) and ``store`` (embedded)."""

from spoolwatch.sinks.base import FAILURE_KINDS, Rejection, SendResult, Sink

__all__ = ["FAILURE_KINDS", "Rejection", "SendResult", "Sink"]
