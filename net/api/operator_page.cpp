#include "net/api/operator_page.hpp"

#include "net/api/gateway_impl.hpp"

namespace troupe::api {

// Plain HTML, SVG and JavaScript, no external resources: it must work on a machine with no
// network. The history lives in the page (the last 5 minutes of 1 s polls).
const std::string_view kOperatorPageHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>troupe operator</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 70rem; }
  h1 { margin: 0 0 .3rem 0; } h2 { font-size: 1rem; margin: 1rem 0 .3rem 0; }
  #status { color: #555; }
  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: .6rem; }
  .chart { border: 1px solid #ccc; border-radius: 6px; padding: .3rem .5rem; }
  .chart .label { font-size: .85rem; color: #333; display: flex; justify-content: space-between; }
  .chart svg { width: 100%; height: 70px; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #eee; }
  .routable { color: #075; } .draining { color: #a60; } .down, .gone { color: #a00; }
  .starting { color: #06a; }
  #events td:nth-child(4) { color: #444; }
  #key { width: 12rem; }
</style>
</head>
<body>
<h1>troupe operator</h1>
<p id="status">connecting…</p>
<label>admin key <input id="key" type="password" placeholder="if the front has keys"></label>
<div class="charts" id="charts"></div>
<h2>Nodes</h2>
<table><thead><tr><th>node</th><th>state</th><th>running</th><th>waiting</th><th>KV use</th>
<th>in flight</th><th>routed</th></tr></thead><tbody id="nodes"></tbody></table>
<h2>Autoscaler</h2>
<p id="autoscaler">this front does not autoscale</p>
<table><thead><tr><th>time</th><th>replicas</th><th>rule</th><th>reason</th></tr></thead>
<tbody id="events"></tbody></table>
<script>
const keyInput = document.getElementById("key");
keyInput.value = localStorage.getItem("troupe-admin-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("troupe-admin-key", keyInput.value));
const HISTORY = 300;  // polls kept: 5 minutes at one a second
const series = {replicas: [], queue: [], kv: [], tokens: [], ttft: []};
const charts = [
  ["replicas", "replicas ready", v => v.toFixed(0)],
  ["queue", "requests waiting", v => v.toFixed(0)],
  ["kv", "KV cache use", v => (100 * v).toFixed(0) + "%"],
  ["tokens", "tokens/s", v => v.toFixed(0)],
  ["ttft", "TTFT (mean, ms)", v => v.toFixed(0)],
];
for (const [id, label] of charts) {
  document.getElementById("charts").insertAdjacentHTML("beforeend",
    `<div class="chart" id="chart-${id}"><div class="label"><span>${label}</span>` +
    `<span class="value"></span></div><svg viewBox="0 0 300 70" preserveAspectRatio="none">` +
    `<polyline fill="none" stroke="#36c" stroke-width="1.5" points=""/></svg></div>`);
}
function push(name, value) {
  const s = series[name];
  s.push(value);
  if (s.length > HISTORY) s.shift();
}
function draw() {
  for (const [id, , format] of charts) {
    const s = series[id], el = document.getElementById("chart-" + id);
    const max = Math.max(1e-9, ...s.filter(v => v !== null));
    // The newest poll at the right edge; the line grows leftwards over 5 minutes.
    const offset = HISTORY - s.length;
    const points = s.map((v, i) => v === null ? null :
      `${(300 * (offset + i) / (HISTORY - 1)).toFixed(1)},${(68 - 64 * v / max).toFixed(1)}`)
      .filter(p => p);
    el.querySelector("polyline").setAttribute("points", points.join(" "));
    const last = s.length ? s[s.length - 1] : null;
    el.querySelector(".value").textContent = last === null ? "–" : format(last);
  }
}
function text(value) { return document.createTextNode(String(value)); }
function row(cells, className) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.appendChild(text(c)); tr.appendChild(td); }
  if (className) tr.children[1].className = className;
  return tr;
}
// Sums of the samples of one series in Prometheus text (every label set).
function metric(text, name) {
  let total = 0, found = false;
  for (const line of text.split("\n")) {
    if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
      total += parseFloat(line.slice(line.lastIndexOf(" ") + 1)); found = true;
    }
  }
  return found ? total : null;
}
let previous = null;
async function poll() {
  const headers = keyInput.value ? {"Authorization": "Bearer " + keyInput.value} : {};
  try {
    const [clusterResponse, metricsResponse] = await Promise.all([
      fetch("/cluster", {headers}), fetch("/metrics", {headers})]);
    if (!clusterResponse.ok) {
      const body = await clusterResponse.json().catch(() => ({}));
      document.getElementById("status").textContent = "GET /cluster: " + clusterResponse.status +
        " " + ((body.error && body.error.message) || "") + " (the admin key is needed)";
      return;
    }
    const cluster = await clusterResponse.json();
    const metrics = metricsResponse.ok ? await metricsResponse.text() : "";
    const now = Date.now() / 1000;
    const nodes = cluster.nodes || [];
    const routable = nodes.filter(n => n.routable);
    push("replicas", routable.length);
    push("queue", nodes.reduce((a, n) => a + (n.waiting || 0), 0));
    push("kv", routable.length ? routable.reduce((a, n) => a + (n.kv_usage || 0), 0) / routable.length : 0);
    const tokens = metric(metrics, "troupe_generation_tokens_total");
    const ttftSum = metric(metrics, "troupe_time_to_first_token_seconds_sum");
    const ttftCount = metric(metrics, "troupe_time_to_first_token_seconds_count");
    if (previous && tokens !== null) {
      const dt = Math.max(1e-3, now - previous.at);
      push("tokens", Math.max(0, tokens - previous.tokens) / dt);
      const firsts = ttftCount - previous.ttftCount;
      push("ttft", firsts > 0 ? 1000 * (ttftSum - previous.ttftSum) / firsts : null);
    }
    previous = {at: now, tokens, ttftSum, ttftCount};
    draw();
    const body = document.getElementById("nodes");
    body.replaceChildren();
    for (const n of nodes) {
      const state = n.routable ? "routable" : !n.connected ? "gone" : n.draining ? "draining" : "down";
      body.appendChild(row([n.name, state, n.running, n.waiting,
                            (100 * n.kv_usage).toFixed(1) + "%", n.outstanding, n.routed], state));
    }
    const a = cluster.autoscaler;
    if (a) {
      for (let i = 0; i < a.starting; ++i)
        body.appendChild(row(["(starting)", "starting", "", "", "", "", ""], "starting"));
      document.getElementById("autoscaler").textContent =
        `${a.mode}${a.advisory ? " (advisory)" : ""}: ${a.min_replicas} to ${a.max_replicas} ` +
        `replicas; desired ${a.desired} (ready ${a.ready}, starting ${a.starting})` +
        `${a.panic ? ", panic" : ""}. Last decision by ${a.rule || "-"}: ${a.reason}` +
        (a.error ? ` — error: ${a.error}` : "");
      const events = document.getElementById("events");
      events.replaceChildren();
      for (const e of (a.events || []).slice().reverse()) {
        events.appendChild(row([new Date(e.unix_seconds * 1000).toLocaleTimeString(),
                                `${e.from} → ${e.to}`, e.rule, e.reason]));
      }
    }
    document.getElementById("status").textContent =
      `${routable.length} of ${nodes.length} nodes routable; routing ${cluster.routing}; ` +
      `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    document.getElementById("status").textContent = "cannot reach the front: " + error;
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
)html";

void GatewayCore::operator_page(Call& call) {
  reply_html(call, kOperatorPageHtml);
}

}  // namespace troupe::api
