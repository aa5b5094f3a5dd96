"""The reporting library models call: ``from spoolwatch import Reporter``.

It writes the records DataRobot's ``datarobot-mlops`` library writes (so DataRobot's own agent
can read them too), splits large reports the same way, and reads DataRobot's ``MLOPS_*``
variables as well as ``SPOOLWATCH_*`` ones.
"""

from spoolwatch.report.background import Dropped
from spoolwatch.report.config import ReporterConfig
from spoolwatch.report.errors import ReportError
from spoolwatch.report.reporter import DROP_EVENT_TYPE, Reporter

__all__ = ["DROP_EVENT_TYPE", "Dropped", "ReportError", "Reporter", "ReporterConfig"]
