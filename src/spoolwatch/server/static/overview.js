/* Deployments overview: status badges per deployment and predictions over time. */
"use strict";

(() => {
  const STATUS_WORDS = {
    green: "healthy", yellow: "warning", red: "failing", unknown: "no data",
  };
  const DRIFT_WORDS = {
    green: "no drift", yellow: "drifting", red: "drifted", unknown: "no data",
  };

  function deploymentCell(deployment) {
    const wrap = document.createElement("div");
    const link = document.createElement("a");
    link.href = `/deployments/${encodeURIComponent(deployment.id)}`;
    link.textContent = deployment.label || deployment.id;
    const sub = document.createElement("span");
    sub.className = "sub";
    sub.textContent = `${deployment.id} · ${deployment.targetType}`;
    wrap.append(link, sub);
    return wrap;
  }

  function healthBadge(health, words) {
    const status = SW.statusOf(health && health.status);
    const span = SW.badge(status, words[status]);
    if (health && health.message) span.title = health.message;
    return span;
  }

  /* The accuracy badge: colour and text from the one judgement of the period shown. */
  function accuracyBadge(deployment, report) {
    const { status, text } = SW.accuracyBadge(report, deployment.targetType);
    const span = SW.badge(status, text);
    if (deployment.accuracyHealth && deployment.accuracyHealth.message) {
      span.title = `last day: ${deployment.accuracyHealth.message}`;
    }
    return span;
  }

  function renderTable(deployments, stats, accuracy) {
    const tbody = document.querySelector("#deployments-table tbody");
    if (!deployments.length) {
      SW.placeholder(tbody, 8, "No deployments yet. Create one with 'spoolwatch deployments create' or POST /api/v2/deployments/.");
      return;
    }
    SW.clearChildren(tbody);
    deployments.forEach((deployment, i) => {
      const metrics = stats[i] ? stats[i].metrics : {};
      const errorRate = metrics.totalRequests
        ? (metrics.userErrorRate || 0) + (metrics.serverErrorRate || 0)
        : null;
      const row = document.createElement("tr");
      row.dataset.deploymentId = deployment.id;
      SW.cell(row, deploymentCell(deployment));
      SW.cell(row, deployment.modelId).classList.add("sub-cell");
      SW.cell(row, SW.num(metrics.totalPredictions), "num");
      SW.cell(row, SW.ms(metrics.executionTime), "num");
      SW.cell(row, SW.pct(errorRate), "num");
      SW.cell(row, healthBadge(deployment.serviceHealth, STATUS_WORDS));
      SW.cell(row, healthBadge(deployment.modelHealth, DRIFT_WORDS));
      SW.cell(row, accuracyBadge(deployment, accuracy[i]));
      tbody.appendChild(row);
    });
  }

  function renderChart(deployments, stats) {
    const traces = deployments.map((deployment, i) => {
      const buckets = stats[i] ? stats[i].buckets : [];
      return {
        type: "bar",
        name: deployment.label || deployment.id,
        ...SW.perBucket(buckets, { bars: true }),
        x: SW.bucketTimes(buckets),
        y: buckets.map((b) => b.metrics.totalPredictions),
        marker: { color: SW.PALETTE[i % SW.PALETTE.length] },
        hovertemplate: "%{x|%d %b %H:%M}<br>%{y:,} predictions<extra>%{fullData.name}</extra>",
      };
    }).filter((t) => t.y.some((v) => v > 0));
    /* Stacked: room above the highest total. */
    const answered = stats.filter((s) => s);
    const totals = answered.length ? answered[0].buckets.map((_, j) =>
      answered.reduce((sum, s) => sum + s.buckets[j].metrics.totalPredictions, 0)) : [];
    SW.plot("chart-overview-predictions", traces, {
      barmode: "stack",
      ...(answered.length ? { xaxis: SW.timeAxis(answered[0].period) } : {}),
      yaxis: {
        title: { text: `predictions ${SW.bucketLabel()}` }, gridcolor: "#eef1f5",
        range: SW.headroom(totals),
      },
    }, "No predictions in this period");
  }

  async function load() {
    const [list, fleet] = await Promise.all([
      SW.api("/api/v2/deployments/"),
      SW.api("/api/v2/spoolwatch/agents/").catch(() => null),
    ]);
    const deployments = list.data || [];
    const query = SW.periodQuery();
    const perDeployment = (endpoint) => Promise.all(deployments.map((d) =>
      SW.api(`/api/v2/deployments/${encodeURIComponent(d.id)}/${endpoint}/?${query}`)
        .catch(() => null)));
    const [stats, accuracy] = await Promise.all(
      [perDeployment("serviceStats"), perDeployment("accuracy")]);
    renderTable(deployments, stats, accuracy);
    renderChart(deployments, stats);
    const predictions = stats.reduce((sum, s) => sum + (s ? s.metrics.totalPredictions : 0), 0);
    const drifting = deployments.filter((d) =>
      ["yellow", "red"].includes(SW.statusOf(d.modelHealth && d.modelHealth.status))).length;
    SW.setText("tile-deployments", SW.num(deployments.length));
    SW.setText("tile-predictions", SW.num(predictions));
    SW.setText("tile-drifting", SW.num(drifting));
    if (fleet) {
      const alive = fleet.data.filter((a) => a.state === "running").length;
      SW.setText("tile-agents", `${alive} / ${fleet.count}`);
    }
  }

  SW.wireRangeSelect("range-select");
  SW.showZone("time-zone");
  SW.start(load);
})();
