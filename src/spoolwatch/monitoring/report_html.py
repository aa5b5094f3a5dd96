"""A drift report as one self-contained HTML page (inline CSS and SVG, nothing fetched)."""

from __future__ import annotations

from html import escape

from spoolwatch.monitoring.drift import DriftReport, FeatureDrift
from spoolwatch.monitoring.status import DriftStatus

__all__ = ["render_drift_html"]

_COLOURS = {
    DriftStatus.GREEN: "#2e7d32",
    DriftStatus.YELLOW: "#f9a825",
    DriftStatus.RED: "#c62828",
    DriftStatus.UNKNOWN: "#757575",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#212121}
table{border-collapse:collapse;margin:1rem 0}
td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{color:#fff;border-radius:.3rem;padding:.1rem .5rem;font-weight:600}
section{margin:1.5rem 0}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
"""


def _badge(status: DriftStatus) -> str:
    return f'<span class="badge" style="background:{_COLOURS[status]}">{status.value}</span>'


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p_value(value: float | None) -> str:
    return "-" if value is None else f"{value:.2g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _bars(drift: FeatureDrift) -> str:
    """Reference and current proportions per bin as an inline SVG bar chart."""
    r_total = sum(drift.reference_counts) or 1
    c_total = sum(drift.current_counts) or 1
    shares = [
        (label, r / r_total, c / c_total)
        for label, r, c in zip(
            drift.bin_labels, drift.reference_counts, drift.current_counts, strict=True
        )
    ]
    top = max((max(r, c) for _, r, c in shares), default=0) or 1
    width, row = 640, 18
    parts = [f'<svg width="{width + 220}" height="{row * len(shares) + 4}" role="img">']
    for i, (label, r, c) in enumerate(shares):
        y = i * row + 2
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{escape(label[:32])}</text>'
            f'<rect x="220" y="{y}" width="{width * r / top:.1f}" height="7" fill="#90a4ae">'
            f"<title>reference {100 * r:.2f} %</title></rect>"
            f'<rect x="220" y="{y + 8}" width="{width * c / top:.1f}" height="7" fill="#1565c0">'
            f"<title>current {100 * c:.2f} %</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_drift_html(report: DriftReport, *, title: str, subtitle: str = "") -> str:
    """The report as an HTML document: summary table, then a chart per feature."""
    drifts = [*report.features, *([report.target] if report.target else [])]
    rows = "".join(
        f"<tr><td><a href='#f{i}'>{escape(d.name)}</a></td><td>{d.kind.value}</td>"
        f"<td class='num'>{_number(d.value)}</td><td class='num'>{_p_value(d.p_value)}</td>"
        f"<td class='num'>{_percent(d.missing_rate_reference)}</td>"
        f"<td class='num'>{_percent(d.missing_rate_current)}</td>"
        f"<td class='num'>{d.reference_rows:,}</td><td class='num'>{d.current_rows:,}</td>"
        f"<td>{_badge(d.status)}</td></tr>"
        for i, d in enumerate(drifts)
    )
    sections = "".join(
        f"<section id='f{i}'><h3>{escape(d.name)} {_badge(d.status)}</h3>"
        f"<p>{escape(report.metric)} = {_number(d.value)} (yellow &ge; {d.thresholds.yellow}, "
        f"red &ge; {d.thresholds.red}); p-value {_p_value(d.p_value)}</p>{_bars(d)}</section>"
        for i, d in enumerate(drifts)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(subtitle)}</p>"
        f"<p>Overall status: {_badge(report.status)} &middot; metric: {escape(report.metric)}</p>"
        "<table><thead><tr><th>feature</th><th>kind</th><th>value</th><th>p-value</th>"
        "<th>missing (ref)</th><th>missing (cur)</th><th>reference rows</th>"
        f"<th>current rows</th><th>status</th></tr></thead><tbody>{rows}</tbody></table>"
        "<p class='legend'><span style='background:#90a4ae'></span>reference"
        "<span style='background:#1565c0'></span>current</p>"
        f"{sections}</body></html>"
    )
