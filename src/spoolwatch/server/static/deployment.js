/* One deployment: service health, drift, accuracy, custom metrics and events. */
"use strict";

(() => {
  const deploymentId = document.body.dataset.deploymentId;
  const base = `/api/v2/deployments/${encodeURIComponent(deploymentId)}`;
  const ACCURACY_METRICS = SW.ACCURACY_METRICS;
  const METRIC_LABELS = SW.METRIC_LABELS;
  const DRIFT_WORDS = { green: "no drift", yellow: "drifting", red: "drifted", unknown: "no data" };
  let selectedFeature = null;
  let lastDrift = null;

  function header(deployment) {
    SW.setText("deployment-title", deployment.label || deployment.id);
    const classes = deployment.classNames && deployment.classNames.length
      ? ` · classes ${deployment.classNames.join(", ")}` : "";
    SW.setText(
      "deployment-subtitle",
      `${deployment.targetType} model ${deployment.modelId} · target ${deployment.targetName || "–"}${classes}`,
    );
    const service = SW.statusOf(deployment.serviceHealth && deployment.serviceHealth.status);
    SW.setBadge("badge-service", service);
    const drift = SW.statusOf(deployment.modelHealth && deployment.modelHealth.status);
    SW.setBadge("badge-drift", drift, DRIFT_WORDS[drift]);
  }

  function serviceHealth(stats) {
    const m = stats.metrics;
    SW.setText("tile-predictions", SW.num(m.totalPredictions));
    SW.setText("tile-requests", SW.num(m.totalRequests));
    SW.setText("tile-latency", SW.ms(m.executionTime));
    const errorRate = m.totalRequests ? (m.userErrorRate || 0) + (m.serverErrorRate || 0) : null;
    SW.setText("tile-errors", SW.pct(errorRate));
    const active = stats.buckets.filter((b) => b.metrics.totalRequests > 0);
    const x = SW.bucketTimes(active);
    const along = SW.perBucket(stats.buckets);
    const bars = SW.perBucket(stats.buckets, { bars: true });
    const per = SW.bucketLabel();
    const predictions = active.map((b) => b.metrics.totalPredictions);
    SW.plot("chart-predictions", [{
      type: "bar", name: `predictions ${per}`, x, y: predictions, ...bars,
      marker: { color: SW.COLORS.blue },
      hovertemplate: "%{x|%d %b %H:%M}<br>%{y:,} predictions<extra></extra>",
    }], {
      xaxis: SW.timeAxis(stats.period),
      yaxis: { gridcolor: "#eef1f5", range: SW.headroom(predictions) },
    });
    SW.plot("chart-latency", [
      {
        type: "scatter", mode: "lines+markers", name: "mean", x, ...along,
        y: active.map((b) => b.metrics.executionTime),
        line: { color: SW.COLORS.teal, width: 2 }, marker: { size: 4 },
      },
      {
        type: "scatter", mode: "lines+markers", name: "p90", x, ...along,
        y: active.map((b) => b.metrics.executionTimeP90),
        line: { color: SW.COLORS.purple, width: 1.5, dash: "dot" }, marker: { size: 3 },
      },
    ], { xaxis: SW.timeAxis(stats.period) });
    const server = active.map((b) => b.metrics.serverErrorRate || 0);
    const user = active.map((b) => b.metrics.userErrorRate || 0);
    SW.plot("chart-errors", [
      {
        type: "bar", name: "server errors", x, y: server, ...bars,
        marker: { color: SW.COLORS.red },
        hovertemplate: "%{x|%d %b %H:%M}<br>server errors %{y:.1%}<extra></extra>",
      },
      {
        type: "bar", name: "user errors", x, y: user, ...bars,
        marker: { color: SW.COLORS.yellow },
        hovertemplate: "%{x|%d %b %H:%M}<br>user errors %{y:.1%}<extra></extra>",
      },
    ], {
      barmode: "stack",
      xaxis: SW.timeAxis(stats.period),
      /* Stacked: the top is the highest total, with room above it; 1% when all are 0. */
      yaxis: {
        tickformat: ".1~%", gridcolor: "#eef1f5",
        range: SW.headroom(server.map((v, i) => v + user[i]), 0.01),
      },
    });
  }

  /* Marker-only traces, one per status present, so each colour has its legend entry. */
  function statusMarkers(points, extra = {}) {
    return ["green", "yellow", "red", "unknown"].map((level) => {
      const these = points.filter((p) => SW.statusOf(p.status) === level);
      return {
        type: "scatter", mode: "markers", name: DRIFT_WORDS[level],
        x: these.map((p) => p.x), y: these.map((p) => p.y),
        customdata: these.map((p) => p.customdata),
        marker: { size: 8, color: SW.COLORS[level] },
        ...extra,
      };
    }).filter((t) => t.x.length);
  }

  /* The drift thresholds as dashed lines, each with its legend entry. */
  function thresholdShapes(thresholds) {
    return ["yellow", "red"].filter((k) => thresholds[k] != null).map((k) => ({
      type: "line", xref: "x", yref: "paper", x0: thresholds[k], x1: thresholds[k], y0: 0, y1: 1,
      line: { color: SW.COLORS[k], width: 1.5, dash: "dash" },
      showlegend: true, name: `${k} threshold ${thresholds[k]}`,
    }));
  }

  function driftChart(drift) {
    SW.setText("drift-metric-name", `(${drift.metric.toUpperCase()})`);
    const features = [...drift.data].sort((a, b) => (b.driftScore || 0) - (a.driftScore || 0));
    const scored = features.filter((f) => f.driftScore != null);
    /* One bar trace per status (its colour in the legend), in one order of features. */
    const bars = ["green", "yellow", "red", "unknown"].map((level) => {
      const these = scored.filter((f) => SW.statusOf(f.status) === level);
      return {
        type: "bar", orientation: "h", name: `${DRIFT_WORDS[level]} (period)`,
        y: these.map((f) => f.name), x: these.map((f) => f.driftScore),
        marker: { color: SW.COLORS[level] },
        customdata: these.map((f) => f.sampleSize),
        hovertemplate: `%{y}: %{x:.3f} over the period<br>${DRIFT_WORDS[level]} · %{customdata:,} rows<extra></extra>`,
      };
    }).filter((t) => t.y.length);
    const peaks = scored.filter((f) => f.peakDriftScore != null);
    const traces = [...bars];
    if (peaks.length) {
      traces.push({
        /* A feature can drift for a few hours only: its status follows the worst hour. */
        type: "scatter", mode: "markers", name: "worst drifting hour",
        y: peaks.map((f) => f.name), x: peaks.map((f) => f.peakDriftScore),
        customdata: peaks.map((f) => f.driftingHours),
        marker: { symbol: "diamond", size: 9, color: "#333a48" },
        hovertemplate: "%{y}: up to %{x:.3f} in an hour<br>drifting in %{customdata} hour(s)<extra></extra>",
      });
    }
    SW.plot("chart-drift", traces, {
      barmode: "overlay",
      margin: { l: 110, r: 16, t: 34, b: 40 },
      yaxis: {
        autorange: "reversed", gridcolor: "#eef1f5",
        categoryorder: "array", categoryarray: scored.map((f) => f.name),
      },
      xaxis: { title: { text: drift.metric }, gridcolor: "#eef1f5", rangemode: "tozero" },
      shapes: thresholdShapes(drift.thresholds || {}),
    }, "No drift data yet (needs training data and predictions with features)");
    const el = document.getElementById("chart-drift");
    if (el.on && !el.dataset.clickable) {
      el.dataset.clickable = "yes";
      el.on("plotly_click", (data) => {
        const point = data.points && data.points[0];
        if (point) selectFeature(point.y);
      });
    }
  }

  function featureSelect(drift) {
    const select = document.getElementById("feature-select");
    const names = drift.data.map((f) => f.name);
    select.parentElement.hidden = names.length === 0;
    if (!selectedFeature || !names.includes(selectedFeature)) {
      const worst = [...drift.data].sort((a, b) => (b.driftScore || 0) - (a.driftScore || 0))[0];
      selectedFeature = worst ? worst.name : null;
    }
    if (select.options.length !== names.length) {
      SW.clearChildren(select);
      for (const name of names) {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        select.appendChild(option);
      }
    }
    if (selectedFeature) select.value = selectedFeature;
  }

  function shares(counts) {
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (total ? c / total : 0));
  }

  function histogramChart() {
    const feature = lastDrift && lastDrift.data.find((f) => f.name === selectedFeature);
    if (!feature || !feature.histogram) {
      SW.plot("chart-histogram", [], {}, "Choose a feature with drift data");
      return;
    }
    const h = feature.histogram;
    SW.plot("chart-histogram", [
      {
        type: "bar", name: "baseline (training)", x: h.labels, y: shares(h.baseline),
        marker: { color: "#9aa3b5" },
        hovertemplate: "%{x}<br>baseline %{y:.1%}<extra></extra>",
      },
      {
        type: "bar", name: "current", x: h.labels, y: shares(h.current),
        marker: { color: SW.COLORS[SW.statusOf(feature.status)] === SW.COLORS.unknown ? SW.COLORS.blue : SW.COLORS[SW.statusOf(feature.status)] },
        hovertemplate: "%{x}<br>current %{y:.1%}<extra></extra>",
      },
    ], {
      barmode: "group",
      margin: { l: 52, r: 16, t: 34, b: 90 },
      xaxis: { tickangle: -35, automargin: true, type: "category" },
      yaxis: { tickformat: ".0%", gridcolor: "#eef1f5", rangemode: "tozero" },
    });
  }

  function targetDrift(target) {
    const status = SW.statusOf(target.status);
    const score = target.driftScore == null ? "" : ` · ${target.metric.toUpperCase()} ${target.driftScore.toFixed(3)}`;
    const peak = target.peakDriftScore == null ? ""
      : `, up to ${target.peakDriftScore.toFixed(3)} (${target.driftingHours} h drifting)`;
    SW.setBadge("badge-target-drift", status, `${DRIFT_WORDS[status]}${score}${peak}`);
    const active = target.buckets.filter((b) => b.sampleSize > 0 && b.driftScore != null);
    const x = SW.bucketTimes(active);
    const along = SW.perBucket(target.buckets);
    const points = active.map((b, i) => ({
      x: x[i], y: b.driftScore, status: b.status, customdata: SW.num(b.sampleSize),
    }));
    SW.plot("chart-target-drift", [
      {
        type: "scatter", mode: "lines", name: `${target.metric} ${SW.bucketLabel()}`, x, ...along,
        y: active.map((b) => b.driftScore), line: { color: SW.COLORS.purple, width: 2 },
        hoverinfo: "skip",
      },
      ...statusMarkers(points, {
        ...along,
        hovertemplate: "%{x|%d %b %H:%M}<br>drift %{y:.3f} · %{fullData.name} · %{customdata} rows<extra></extra>",
      }),
    ], {
      xaxis: SW.timeAxis(target.period),
      yaxis: { title: { text: target.metric }, gridcolor: "#eef1f5", rangemode: "tozero" },
    }, "No prediction drift data yet");
  }

  function accuracy(report, targetType) {
    const names = (ACCURACY_METRICS[targetType] || Object.keys(report.metrics))
      .filter((name) => report.metrics[name] !== undefined);
    const main = SW.mainAccuracy(report, targetType);
    SW.setText("tile-accuracy-label", main ? main.label : "Accuracy");
    SW.setText("tile-accuracy", main ? main.shown : "–");
    SW.setText("accuracy-chart-title",
      `Accuracy over time · ${SW.num(report.sampleSize)} ${report.sampleSize === 1 ? "prediction" : "predictions"} with actuals, ${SW.num(report.predictionsWithoutActuals)} waiting`);
    const active = report.buckets.filter((b) => b.sampleSize > 0);
    const x = SW.bucketTimes(active);
    const along = SW.perBucket(report.buckets);
    const traces = names.map((name, i) => ({
      type: "scatter", mode: "lines+markers", name: METRIC_LABELS[name] || name, x, ...along,
      y: active.map((b) => b.metrics[name]),
      customdata: active.map((b) => b.sampleSize),
      hovertemplate: `%{x|%d %b %H:%M}<br>${METRIC_LABELS[name] || name} %{y:.3f} · %{customdata:,} rows<extra></extra>`,
      line: { color: SW.PALETTE[i % SW.PALETTE.length], width: i === 0 ? 2.5 : 1.5 },
      marker: { size: i === 0 ? 6 : 4 },
      visible: name === "logLoss" ? "legendonly" : true,
    }));
    /* Buckets too small to judge are ringed: their figures are noise. */
    const judged = main ? main.name : names[0];
    const sparse = active.filter((b) => b.sampleSize < (report.minRows || 0));
    if (judged && sparse.length) {
      traces.push({
        type: "scatter", mode: "markers", name: `fewer than ${SW.num(report.minRows)} rows`,
        x: SW.bucketTimes(sparse), ...along, y: sparse.map((b) => b.metrics[judged]),
        marker: { symbol: "circle-open", size: 13, color: SW.COLORS.grey, line: { width: 2 } },
        hoverinfo: "skip",
      });
    }
    SW.plot("chart-accuracy", traces, {
      xaxis: SW.timeAxis(report.period),
      yaxis: { gridcolor: "#eef1f5", rangemode: targetType === "regression" ? "normal" : "tozero" },
    }, "No actuals yet: report them with report_actuals()");
  }

  async function customMetrics() {
    const container = document.getElementById("custom-metrics");
    const listing = await SW.api(`${base}/customMetrics/?${SW.periodQuery(false)}`);
    document.getElementById("custom-metrics-empty").hidden = listing.data.length > 0;
    const query = SW.periodQuery();
    const summaries = await Promise.all(listing.data.map((m) =>
      SW.api(`${base}/customMetrics/${encodeURIComponent(m.id)}/summary/?${query}`)));
    summaries.forEach((summary, i) => {
      const id = `chart-custom-${i}`;
      let card = document.getElementById(`card-${id}`);
      if (!card) {
        card = document.createElement("div");
        card.className = "card";
        card.id = `card-${id}`;
        const title = document.createElement("h3");
        const chart = document.createElement("div");
        chart.className = "chart small custom-metric-chart";
        chart.id = id;
        card.append(title, chart);
        container.appendChild(card);
      }
      const metric = summary.metric;
      card.querySelector("h3").textContent =
        `${metric.id} · mean ${SW.smart(metric.mean)} · last ${SW.smart(metric.last)} · ${SW.num(metric.count)} values`;
      const active = summary.buckets.filter((b) => b.count > 0);
      SW.plot(id, [{
        type: "scatter", mode: "lines+markers", name: `mean ${SW.bucketLabel()}`,
        x: SW.bucketTimes(active), ...SW.perBucket(summary.buckets),
        y: active.map((b) => b.mean), line: { color: SW.PALETTE[(i + 2) % SW.PALETTE.length], width: 2 },
        marker: { size: 4 },
        hovertemplate: "%{x|%d %b %H:%M}<br>mean %{y:.3f}<extra></extra>",
      }], { xaxis: SW.timeAxis(summary.period) });
    });
  }

  function events(list) {
    const tbody = document.querySelector("#events-table tbody");
    if (!list.data.length) {
      SW.placeholder(tbody, 3, "No events in this period.");
      return;
    }
    SW.clearChildren(tbody);
    for (const event of list.data) {
      const row = document.createElement("tr");
      SW.cell(row, SW.time(event.at)).title = `as reported: ${event.timestamp}`;
      const type = document.createElement("span");
      type.className = "event-type";
      type.textContent = event.eventType;
      SW.cell(row, type);
      SW.cell(row, event.message);
      tbody.appendChild(row);
    }
  }

  async function load() {
    const query = SW.periodQuery();
    const [deployment, stats, drift, target, acc, eventList] = await Promise.all([
      SW.api(`${base}/`),
      SW.api(`${base}/serviceStats/?${query}`),
      SW.api(`${base}/featureDrift/?${SW.periodQuery(false)}`),
      SW.api(`${base}/targetDrift/?${query}`),
      SW.api(`${base}/accuracy/?${query}`),
      SW.api(`${base}/events/?${SW.periodQuery(false)}&limit=50`),
    ]);
    header(deployment);
    /* The status of the period shown (the deployment's accuracyHealth is the last day's). */
    const accuracyBadge = SW.accuracyBadge(acc, deployment.targetType);
    SW.setBadge("badge-accuracy", accuracyBadge.status, accuracyBadge.text);
    serviceHealth(stats);
    lastDrift = drift;
    driftChart(drift);
    featureSelect(drift);
    histogramChart();
    targetDrift(target);
    accuracy(acc, deployment.targetType);
    events(eventList);
    await customMetrics();
  }

  function selectFeature(name) {
    selectedFeature = name;
    document.getElementById("feature-select").value = name;
    histogramChart();
  }

  document.getElementById("feature-select").addEventListener("change", (event) => {
    selectFeature(event.target.value);
  });
  SW.wireRangeSelect("range-select");
  SW.showZone("time-zone");
  SW.start(load);
})();
