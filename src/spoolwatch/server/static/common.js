/* spoolwatch dashboard: what every page shares (API calls, badges, number formats, charts). */
"use strict";

const SW = (() => {
  const TOKEN_KEY = "spoolwatch.apiToken";
  const REFRESH_MS = 15000;
  const COLORS = {
    green: "#1e9e5a", yellow: "#e0a100", red: "#c9302c", unknown: "#9aa3b5",
    blue: "#2f6fde", teal: "#14a3a3", purple: "#7a5af8", grey: "#9aa3b5",
  };
  const PALETTE = ["#2f6fde", "#14a3a3", "#7a5af8", "#e0a100", "#d9480f", "#1e9e5a", "#c2255c"];

  class AuthRequired extends Error {}

  function token() {
    return window.sessionStorage.getItem(TOKEN_KEY);
  }

  async function api(path, { allow404 = false } = {}) {
    const headers = { Accept: "application/json" };
    const saved = token();
    if (saved) headers.Authorization = `Bearer ${saved}`;
    const response = await fetch(path, { headers, credentials: "same-origin" });
    if (response.status === 401 || response.status === 403) {
      showAuth();
      throw new AuthRequired(`${path}: ${response.status}`);
    }
    if (allow404 && response.status === 404) return null;
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  function showAuth() {
    const panel = document.getElementById("auth-panel");
    if (panel) panel.hidden = false;
  }

  function wireAuthForm() {
    const form = document.getElementById("auth-form");
    if (!form) return;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = document.getElementById("auth-token").value.trim();
      if (value) window.sessionStorage.setItem(TOKEN_KEY, value);
      window.location.reload();
    });
  }

  function showError(message) {
    const box = document.getElementById("page-error");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    const box = document.getElementById("page-error");
    if (box) box.hidden = true;
  }

  /* Normalises whatever the API calls a status to green / yellow / red / unknown. */
  function statusOf(value) {
    const text = String(value == null ? "unknown" : value).toLowerCase();
    if (["green", "passing", "ok", "healthy", "alive"].includes(text)) return "green";
    if (["yellow", "warning", "at_risk", "late"].includes(text)) return "yellow";
    if (["red", "failing", "error", "drift", "silent", "dead"].includes(text)) return "red";
    return "unknown";
  }

  const STATUS_TEXT = { green: "healthy", yellow: "warning", red: "failing", unknown: "no data" };

  function badge(status, text) {
    const span = document.createElement("span");
    const level = statusOf(status);
    span.className = `badge ${level}`;
    span.textContent = text || STATUS_TEXT[level];
    return span;
  }

  function setBadge(id, status, text) {
    const el = document.getElementById(id);
    if (!el) return;
    const level = statusOf(status);
    el.className = `badge ${level}`;
    el.textContent = text || STATUS_TEXT[level];
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  function num(value, digits = 0) {
    if (value == null || Number.isNaN(Number(value))) return "–";
    return Number(value).toLocaleString("en-US", {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    });
  }

  /* A number with as many decimals as its size deserves (1234 → "1,234", 0.1234 → "0.123"). */
  function smart(value) {
    if (value == null || Number.isNaN(Number(value))) return "–";
    const size = Math.abs(Number(value));
    return num(value, size >= 1000 ? 0 : size >= 10 ? 1 : 3);
  }

  function pct(value, digits = 1) {
    if (value == null || Number.isNaN(Number(value))) return "–";
    return `${(Number(value) * 100).toFixed(digits)}%`;
  }

  function ms(value) {
    if (value == null || Number.isNaN(Number(value))) return "–";
    return `${Number(value).toFixed(1)} ms`;
  }

  function time(value) {
    if (!value) return "–";
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return date.toLocaleString("en-GB", {
      year: "numeric", month: "short", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function ago(value) {
    if (!value) return "–";
    const seconds = (Date.now() - new Date(value).getTime()) / 1000;
    if (Number.isNaN(seconds)) return String(value);
    if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  }

  function layout(extra = {}) {
    return Object.assign({
      margin: { l: 52, r: 16, t: 10, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12, color: "#39425a" },
      xaxis: { gridcolor: "#eef1f5", linecolor: "#d5dbe5", zeroline: false },
      yaxis: { gridcolor: "#eef1f5", linecolor: "#d5dbe5", zeroline: false, rangemode: "tozero" },
      showlegend: false,
      hoverlabel: { bgcolor: "#141a2a", font: { color: "#fff" } },
    }, extra);
  }

  const CONFIG = { displaylogo: false, responsive: true, displayModeBar: false };

  /* Draws (or redraws) a chart; with no traces, shows a quiet "no data" note instead. */
  function plot(id, traces, extraLayout = {}, emptyText = "No data yet") {
    const el = document.getElementById(id);
    if (!el) return;
    const hasData = traces.some((t) => (t.x && t.x.length) || (t.y && t.y.length));
    if (!hasData) {
      if (el.data) window.Plotly.purge(el);
      el.innerHTML = "";
      const note = document.createElement("div");
      note.className = "chart-empty";
      note.textContent = emptyText;
      el.appendChild(note);
      return;
    }
    const note = el.querySelector(".chart-empty");
    if (note) note.remove();
    window.Plotly.react(el, traces, layout(extraLayout), CONFIG);
  }

  function clearChildren(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function cell(row, content, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content == null ? "–" : String(content);
    row.appendChild(td);
    return td;
  }

  function placeholder(tbody, columns, text) {
    clearChildren(tbody);
    const row = document.createElement("tr");
    row.className = "placeholder";
    const td = cell(row, text);
    td.colSpan = columns;
    tbody.appendChild(row);
  }

  /* Runs a page's load function now and every REFRESH_MS; errors go to the error banner. */
  function start(load) {
    wireAuthForm();
    const run = async () => {
      try {
        await load();
        clearError();
      } catch (error) {
        if (!(error instanceof AuthRequired)) showError(`Could not load data: ${error.message}`);
      }
    };
    run();
    window.setInterval(run, REFRESH_MS);
  }

  const ACCURACY_METRICS = {
    binary: ["accuracy", "auc", "f1", "logLoss"],
    multiclass: ["accuracy", "logLoss"],
    regression: ["rmse", "mae", "r2"],
  };
  const METRIC_LABELS = {
    accuracy: "Accuracy", auc: "AUC", f1: "F1", logLoss: "LogLoss",
    rmse: "RMSE", mae: "MAE", r2: "R²",
  };

  /* The headline accuracy metric of an accuracy report: {name, label, value, text} or null. */
  function mainAccuracy(report, targetType) {
    const names = (ACCURACY_METRICS[targetType] || Object.keys(report.metrics))
      .filter((name) => report.metrics[name] && report.metrics[name].value != null);
    if (!report.sampleSize || !names.length) return null;
    /* The metric the service judges accuracy by, when it names one. */
    const name = names.includes(report.metric) ? report.metric : names[0];
    const { value, percentChange } = report.metrics[name];
    const label = METRIC_LABELS[name] || name;
    const shown = name === "accuracy" ? pct(value) : num(value, 3);
    const change = percentChange == null ? ""
      : ` (${percentChange >= 0 ? "+" : ""}${percentChange.toFixed(1)}% vs reference)`;
    return { name, label, value, text: `${label} ${shown}${change}` };
  }

  /* The period a page shows: ?range=24h|7d|30d, as API query parameters. */
  const RANGES = {
    "24h": { hours: 24, bucket: "PT1H", label: "Last 24 hours" },
    "7d": { hours: 24 * 7, bucket: "PT1H", label: "Last 7 days" },
    "30d": { hours: 24 * 30, bucket: "P1D", label: "Last 30 days" },
  };

  function range() {
    const key = new URLSearchParams(window.location.search).get("range");
    return RANGES[key] ? key : "24h";
  }

  function periodQuery(withBucket = true) {
    const chosen = RANGES[range()];
    const start = new Date(Date.now() - chosen.hours * 3600 * 1000).toISOString();
    const params = new URLSearchParams({ start });
    if (withBucket) params.set("bucketSize", chosen.bucket);
    return params.toString();
  }

  function wireRangeSelect(id) {
    const select = document.getElementById(id);
    if (!select) return;
    for (const [key, value] of Object.entries(RANGES)) {
      const option = document.createElement("option");
      option.value = key;
      option.textContent = value.label;
      select.appendChild(option);
    }
    select.value = range();
    select.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("range", select.value);
      window.location.assign(url.toString());
    });
  }

  /* Bucket start times of a time series, as Date objects (plotly draws them on a time axis). */
  function bucketTimes(buckets) {
    return buckets.map((b) => new Date(b.period.start));
  }

  return {
    ACCURACY_METRICS, METRIC_LABELS, mainAccuracy,
    range, periodQuery, wireRangeSelect, bucketTimes,
    api, badge, setBadge, setText, statusOf, num, smart, pct, ms, time, ago, plot, layout,
    cell, placeholder, clearChildren, start, COLORS, PALETTE,
  };
})();
