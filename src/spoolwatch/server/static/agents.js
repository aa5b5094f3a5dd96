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

  const HEARTBEAT_WORDS = {
    green: "alive", yellow: "reporting errors", red: "silent", unknown: "stopped",
  };

  function renderCharts(agents) {
    const names = agents.map((a) => a.agentId);
    SW.plot("chart-agent-records", [{
      type: "bar", name: "records sent", x: names, y: agents.map((a) => (a.details || {}).sent || 0),
      marker: { color: SW.COLORS.blue },
      hovertemplate: "%{x}<br>%{y:,} records sent<extra></extra>",
    }], {
      xaxis: { type: "category", automargin: true },
      bargap: barGap(agents),
      yaxis: {
        gridcolor: "#eef1f5", range: SW.headroom(agents.map((a) => (a.details || {}).sent || 0)),
      },
    }, "No agents yet");
    /* One trace per state, so each colour has its legend entry; one bar per agent. */
    const heartbeats = ["green", "yellow", "red", "unknown"].map((level) => {
      const these = agents.filter((a) => agentStatus(a)[0] === level);
      return {
        type: "bar", name: HEARTBEAT_WORDS[level],
        x: these.map((a) => a.agentId), y: these.map((a) => a.ageSeconds),
        marker: { color: SW.COLORS[level] },
        hovertemplate: "%{x}<br>last heartbeat %{y:.0f} s ago<extra></extra>",
      };
    }).filter((t) => t.x.length);
    SW.plot("chart-agent-heartbeats", heartbeats, {
      barmode: "overlay",
      xaxis: { type: "category", automargin: true, categoryorder: "array", categoryarray: names },
      bargap: barGap(agents),
      yaxis: {
        title: { text: "seconds" }, gridcolor: "#eef1f5",
        range: SW.headroom(agents.map((a) => a.ageSeconds)),
      },
    }, "No agents yet");
  }

  /* The serverless fleet on AWS: shown only while the service can read it. */
  const BREAKER_LEVELS = { closed: "green", half_open: "yellow", open: "red" };

  function seconds(value) {
    return value == null ? "–" : `${SW.num(value, 1)} s`;
  }

  function breakerDetail(breaker) {
    const parts = [];
    if (breaker.reason) parts.push(breaker.reason);
    if (breaker.state !== "closed" && breaker.reopensIn != null) {
      parts.push(breaker.reopensIn > 0
        ? `re-opens to a probe in ${seconds(breaker.reopensIn)}`
        : "a probe agent may run now");
    }
    if (breaker.probeHolder) parts.push(`probe: ${breaker.probeHolder}`);
    parts.push(`${SW.num(breaker.failuresInWindow)} counting failure(s) in the window`);
    return parts.join(" · ");
  }

  /* The data queue's wake trigger: armed while the fleet is idle and the breaker closed. */
  function wakeDetail(wake) {
    const parts = [];
    if (wake.why) parts.push(wake.why);
    parts.push(wake.changedAt == null
      ? "never switched since deployment"
      : `changed ${SW.ago(new Date(wake.changedAt * 1000).toISOString())}`);
    parts.push(wake.armed
      ? "records arriving start agents at once"
      : "records arriving wait for the running agents or the schedule");
    return parts.join(" · ");
  }

  function renderWake(wake) {
    if (wake.armed == null) {
      SW.setBadge("fleet-wake", "unknown", "unknown");
      SW.setText("fleet-wake-detail", "–");
      return;
    }
    SW.setBadge("fleet-wake", wake.armed ? "green" : "unknown", wake.armed ? "armed" : "disarmed");
    SW.setText("fleet-wake-detail", wakeDetail(wake));
  }

  function renderLeases(leases) {
    const tbody = document.querySelector("#fleet-leases tbody");
    if (!leases.length) {
      SW.placeholder(tbody, 3, "No lease is held: no agent is running.");
      return;
    }
    SW.clearChildren(tbody);
    for (const lease of leases) {
      const row = document.createElement("tr");
      SW.cell(row, SW.num(lease.slot), "num");
      SW.cell(row, lease.holder);
      SW.cell(row, seconds(lease.expiresIn), "num");
      tbody.appendChild(row);
    }
  }

  function renderFailures(failures) {
    const tbody = document.querySelector("#fleet-failures tbody");
    if (!failures.length) {
      SW.placeholder(tbody, 3, "No recent failures.");
      return;
    }
    SW.clearChildren(tbody);
    for (const failure of failures) {
      const row = document.createElement("tr");
      SW.cell(row, SW.time(new Date(failure.at * 1000).toISOString()));
      const kind = document.createElement("span");
      kind.className = "event-type";
      kind.textContent = failure.kind;
      SW.cell(row, kind);
      SW.cell(row, failure.reason);
      tbody.appendChild(row);
    }
  }

  async function loadServerlessFleet(panel) {
    let fleet;
    try {
      fleet = await SW.api(panel.dataset.fleetUrl);
    } catch {
      /* 503: AWS cannot be reached now; the next refresh tries again. */
      panel.hidden = true;
      return;
    }
    SW.setText("fleet-visible", SW.num(fleet.visible));
    SW.setText("fleet-in-flight", SW.num(fleet.in_flight));
    SW.setText("fleet-recruits", SW.num(fleet.pending_recruits));
    SW.setText("fleet-leases-held",
      `${SW.num(fleet.leases.length)} of ${SW.num(fleet.target_concurrency)}`);
    const breaker = fleet.breaker || {};
    SW.setBadge("fleet-breaker", BREAKER_LEVELS[breaker.state] || "unknown",
      String(breaker.state || "unknown").replace("_", "-"));
    SW.setText("fleet-breaker-detail", breakerDetail(breaker));
    renderWake(fleet.wake || {});
    renderLeases(fleet.leases || []);
    renderFailures(fleet.failures || []);
    panel.hidden = false;
  }

  async function load() {
    const panel = document.getElementById("fleet-panel");
    const serverless = panel ? loadServerlessFleet(panel) : Promise.resolve();
    const fleet = await SW.api("/api/v2/spoolwatch/agents/");
    const agents = fleet.data || [];
    renderTable(agents);
    renderCharts(agents);
    SW.setText("tile-agents", SW.num(fleet.count));
    SW.setText("tile-alive", SW.num(agents.filter((a) => a.state === "running").length));
    SW.setText("tile-sent", SW.num(agents.reduce((s, a) => s + ((a.details || {}).sent || 0), 0)));
    SW.setText("tile-quarantined",
      SW.num(agents.reduce((s, a) => s + ((a.details || {}).quarantined || 0), 0)));
    await serverless;
  }

  SW.start(load);
})();
