/* The agent fleet: each agent's latest heartbeat, throughput and backlog. */
"use strict";

(() => {
  function agentStatus(agent) {
    if (agent.state === "stopped") return ["unknown", "stopped"];
    if (agent.stale) return ["red", "silent"];
    const errors = typeof agent.errors === "number"
      ? agent.errors
      : Object.values(agent.errors || {}).reduce((a, b) => a + b, 0);
    if (errors > 0) return ["yellow", `${errors} errors`];
    return ["green", "alive"];
  }

  function backlogOf(agent) {
    return Object.values(agent.backlog || {}).reduce((a, b) => a + (b || 0), 0);
  }

  function renderTable(agents) {
    const tbody = document.querySelector("#agents-table tbody");
    if (!agents.length) {
      SW.placeholder(tbody, 8, "No agent has sent a heartbeat in the last day.");
      return;
    }
    SW.clearChildren(tbody);
    for (const agent of agents) {
      const [status, text] = agentStatus(agent);
      const details = agent.details || {};
      const row = document.createElement("tr");
      const name = document.createElement("div");
      name.textContent = agent.agentId;
      const sub = document.createElement("span");
      sub.className = "sub";
      sub.textContent = [agent.runtime, details.version && `v${details.version}`, details.pid && `pid ${details.pid}`]
        .filter(Boolean).join(" · ");
      name.appendChild(sub);
      SW.cell(row, name);
      SW.cell(row, SW.badge(status, text));
      SW.cell(row, Object.keys(agent.backlog || {}).join(", ") || "–");
      SW.cell(row, agent.host);
      const beat = document.createElement("div");
      beat.textContent = SW.ago(agent.receivedAt);
      const when = document.createElement("span");
      when.className = "sub";
      when.textContent = SW.time(agent.receivedAt);
      beat.appendChild(when);
      SW.cell(row, beat);
      SW.cell(row, SW.num(details.sent), "num");
      SW.cell(row, SW.num(details.quarantined), "num");
      SW.cell(row, SW.num(backlogOf(agent)), "num");
      tbody.appendChild(row);
    }
  }

  /* Few agents: thin bars, not one bar across the whole chart. */
  function barGap(agents) {
    return agents.length < 4 ? 0.75 : 0.3;
  }

  function renderCharts(agents) {
    const names = agents.map((a) => a.agentId);
    SW.plot("chart-agent-records", [{
      type: "bar", x: names, y: agents.map((a) => (a.details || {}).sent || 0),
      marker: { color: SW.COLORS.blue },
      hovertemplate: "%{x}<br>%{y:,} records sent<extra></extra>",
    }], { xaxis: { type: "category", automargin: true }, bargap: barGap(agents) }, "No agents yet");
    SW.plot("chart-agent-heartbeats", [{
      type: "bar", x: names, y: agents.map((a) => a.ageSeconds),
      marker: { color: agents.map((a) => SW.COLORS[agentStatus(a)[0]]) },
      hovertemplate: "%{x}<br>last heartbeat %{y:.0f} s ago<extra></extra>",
    }], {
      xaxis: { type: "category", automargin: true },
      bargap: barGap(agents),
      yaxis: { title: { text: "seconds" }, gridcolor: "#eef1f5", rangemode: "tozero" },
    }, "No agents yet");
  }

  async function load() {
    const fleet = await SW.api("/api/v2/spoolwatch/agents/");
    const agents = fleet.data || [];
    renderTable(agents);
    renderCharts(agents);
    SW.setText("tile-agents", SW.num(fleet.count));
    SW.setText("tile-alive", SW.num(agents.filter((a) => a.state === "running").length));
    SW.setText("tile-sent", SW.num(agents.reduce((s, a) => s + ((a.details || {}).sent || 0), 0)));
    SW.setText("tile-quarantined",
      SW.num(agents.reduce((s, a) => s + ((a.details || {}).quarantined || 0), 0)));
  }

  SW.start(load);
})();
