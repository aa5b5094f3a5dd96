"""The statistics of monitoring: pure functions over numpy arrays and mergeable summaries.

No I/O here: the same code runs in the monitoring service, in Lambda and in the CLI.

* baselines and drift: :class:`Baseline`, :class:`DriftAggregate`, :func:`compute_drift`,
  :func:`drift_between`, the metrics in :data:`DRIFT_METRICS` (PSI, Jensen-Shannon,
  normalised Wasserstein) and the traffic-light :class:`DriftStatus`;
* service health: :class:`ServiceHealth` with its :class:`LatencyHistogram`;
* accuracy: :func:`binary_metrics`, :func:`multiclass_metrics`, :func:`regression_metrics`,
  :func:`join_by_association`;
* custom metrics: :class:`CustomMetricAggregate`.
"""

from spoolwatch.monitoring.accuracy import (
    BinaryMetrics,
    MulticlassMetrics,
    RegressionMetrics,
    auc,
    binary_metrics,
    join_by_association,
    multiclass_metrics,
    regression_metrics,
)
from spoolwatch.monitoring.baseline import Baseline, FeatureBaseline
from spoolwatch.monitoring.binning import FeatureKind
from spoolwatch.monitoring.custom import CustomMetricAggregate
from spoolwatch.monitoring.drift import (
    DriftConfig,
    DriftReport,
    FeatureDrift,
    compute_drift,
    compute_feature_drift,
    drift_between,
    homogeneity_p_value,
)
from spoolwatch.monitoring.health import ServiceHealth, ServiceHealthSummary
from spoolwatch.monitoring.histogram import DriftAggregate, merge_counts
from spoolwatch.monitoring.latency import LatencyHistogram
from spoolwatch.monitoring.metrics import (
    DRIFT_METRICS,
    DriftMetric,
    DriftThresholds,
    JensenShannon,
    PopulationStabilityIndex,
    Wasserstein,
    drift_metric,
    register_drift_metric,
)
from spoolwatch.monitoring.prediction import TargetType, prediction_values
from spoolwatch.monitoring.status import DriftStatus, worst_status

__all__ = [
    "DRIFT_METRICS",
    "Baseline",
    "BinaryMetrics",
    "CustomMetricAggregate",
    "DriftAggregate",
    "DriftConfig",
    "DriftMetric",
    "DriftReport",
    "DriftStatus",
    "DriftThresholds",
    "FeatureBaseline",
    "FeatureDrift",
    "FeatureKind",
    "JensenShannon",
    "LatencyHistogram",
    "MulticlassMetrics",
    "PopulationStabilityIndex",
    "RegressionMetrics",
    "ServiceHealth",
    "ServiceHealthSummary",
    "TargetType",
    "Wasserstein",
    "auc",
    "binary_metrics",
    "compute_drift",
    "compute_feature_drift",
    "drift_between",
    "drift_metric",
    "homogeneity_p_value",
    "join_by_association",
    "merge_counts",
    "multiclass_metrics",
    "prediction_values",
    "register_drift_metric",
    "regression_metrics",
    "worst_status",
]
