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

  /* Times are shown in the viewer's zone, named: "07 Dec 2026, 10:59:50 CET". */
  const TIME_FORMAT = new Intl.DateTimeFormat("en-GB", {
    year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  const HOUR_FORMAT = new Intl.DateTimeFormat("en-GB", {
    month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  const CLOCK_FORMAT = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

  function time(value) {
    if (!value) return "–";
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return TIME_FORMAT.format(date);
  }

  /* "Europe/Berlin (CET)": the zone every time on the page is shown in. */
  function zone() {
    const name = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
    const part = TIME_FORMAT.formatToParts(new Date()).find((p) => p.type === "timeZoneName");
    return part && part.value !== name ? `${name} (${part.value})` : name;
  }

  /* A [start, end) period as "07 Dec, 14:00–18:00" (or "07 Dec, 22:00 – 08 Dec, 02:00"). */
  function span(period) {
    const start = new Date(period.start);
    const end = new Date(period.end);
    const sameDay = start.toDateString() === new Date(end - 1).toDateString();
    return sameDay
      ? `${HOUR_FORMAT.format(start)}–${CLOCK_FORMAT.format(end)}`
      : `${HOUR_FORMAT.format(start)} – ${HOUR_FORMAT.format(end)}`;
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
      margin: { l: 52, r: 16, t: 34, b: 40 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif", size: 12, color: "#39425a" },
      xaxis: { gridcolor: "#eef1f5", linecolor: "#d5dbe5", zeroline: false },
      yaxis: { gridcolor: "#eef1f5", linecolor: "#d5dbe5", zeroline: false, rangemode: "tozero" },
      /* Every mark is named: the legend sits above the plot, inside the top margin. */
      showlegend: true,
      legend: LEGEND,
      hoverlabel: { bgcolor: "#141a2a", font: { color: "#fff" } },
    }, extra);
  }

  const LEGEND = { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" };

  /* A time axis spanning exactly the period queried, whatever data it holds. Plotly draws
     Date objects in the browser's zone, so the range is given as that zone's wall time. */
  function wallTime(value) {
    const d = new Date(value);
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} `
      + `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  }

  function timeAxis(period, extra = {}) {
    return Object.assign({
      type: "date", autorange: false, range: [wallTime(period.start), wallTime(period.end)],
      gridcolor: "#eef1f5", linecolor: "#d5dbe5", zeroline: false,
    }, extra);
  }

  /* A value axis from 0 with room above the highest value (bars never touch the top). */
  function headroom(values, least = 1) {
    const top = Math.max(0, ...values.filter((v) => v != null && Number.isFinite(v)));
    return [0, (top > 0 ? top : least) * 1.15];
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

  function rows(n) {
    return `${num(n)} row${n === 1 ? "" : "s"}`;
  }

  function metricText(name, value) {
    if (value == null || !Number.isFinite(Number(value))) return "–";
    return name === "accuracy" ? pct(value) : num(value, 3);
  }

  function change(percent) {
    if (percent == null || !Number.isFinite(percent)) return "no reference yet";
    const sign = percent > 0 ? "+" : percent < 0 ? "−" : "±";
    return `${sign}${Math.abs(percent).toFixed(1)}% vs reference`;
  }

  /* The headline accuracy metric of an accuracy report: {name, label, value, shown, text}
     or null. With fewer joined rows than the service needs to judge accuracy (minRows), the
     figure is "n/a (N rows)": one row is 0% or 100%, which says nothing. */
  function mainAccuracy(report, targetType) {
    const names = (ACCURACY_METRICS[targetType] || Object.keys(report.metrics))
      .filter((name) => report.metrics[name] && report.metrics[name].value != null);
    if (!report.sampleSize || !names.length) return null;
    /* The metric the service judges accuracy by, when it names one. */
    const name = names.includes(report.metric) ? report.metric : names[0];
    const { value } = report.metrics[name];
    const label = METRIC_LABELS[name] || name;
    const tooFew = report.sampleSize < (report.minRows || 0);
    const shown = tooFew ? `n/a (${rows(report.sampleSize)})` : metricText(name, value);
    return { name, label, value: tooFew ? null : value, shown, text: `${label} ${shown}` };
  }

  /* The accuracy badge's {status, text}: both from the service's one judgement. The text
     shows the figure the status was judged on: the period's, or that of the window (hours
     pooled, or a recent span) whose status is worse than the period's own. */
  function accuracyBadge(report, targetType) {
    const status = statusOf(report && report.status);
    const main = report && mainAccuracy(report, targetType);
    if (!main) return { status, text: STATUS_TEXT[status] };
    const judged = report.judgedOn;
    if (!judged || judged.value == null || main.value == null) return { status, text: main.text };
    const figure = `${main.label} ${metricText(report.metric || main.name, judged.value)}`;
    const where = judged.window ? ` in ${span(judged.period)}` : "";
    return { status, text: `${figure}${where} (${change(judged.percentChange)})` };
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

  /* The chosen span up to the end of the current hour, as the service's own health checks
     count it (the service ends a period there when no end is given). */
  function periodQuery(withBucket = true) {
    const chosen = RANGES[range()];
    const hour = 3600 * 1000;
    const end = Math.ceil(Date.now() / hour) * hour;
    const start = new Date(end - chosen.hours * hour).toISOString();
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

  /* Trace settings that draw each point across its bucket (bars fill their hour, points sit
     in its middle), so the first and last buckets stay inside the period's axis. */
  function perBucket(buckets, { bars = false } = {}) {
    const first = buckets[0];
    const width = first ? new Date(first.period.end) - new Date(first.period.start) : 3600000;
    /* A bar's width is set, not guessed from its neighbours: a lone bar is a bucket wide. */
    const bar = bars ? { width: width * 0.8 } : {};
    return { xperiod: width, xperiodalignment: "middle", ...bar };
  }

  function bucketLabel() {
    return RANGES[range()].bucket === "P1D" ? "per day" : "per hour";
  }

  function showZone(id) {
    setText(id, `Times in ${zone()}`);
  }

  return {
    ACCURACY_METRICS, METRIC_LABELS, mainAccuracy, accuracyBadge, rows,
    range, periodQuery, wireRangeSelect, bucketTimes, perBucket, bucketLabel, timeAxis, headroom,
    api, badge, setBadge, setText, statusOf, num, smart, pct, ms, time, ago, zone, span, showZone,
    plot, layout, cell, placeholder, clearChildren, start, COLORS, PALETTE, STATUS_TEXT,
  };
})();
