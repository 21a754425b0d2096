// meshpilot dashboard: polls the JSON endpoints every 2 s and redraws. No framework, no build step.
"use strict";
const POLL_MS = 2000;
const NODE_W = 170, NODE_H = 44, SVG = "http://www.w3.org/2000/svg";
let selectedProxy = null;

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtRps(r) { return r === null || r === undefined ? "-" : (r >= 10 ? r.toFixed(0) : r.toFixed(2)); }
function fmtRatio(r) { return r === null || r === undefined ? "-" : (100 * r).toFixed(1) + " %"; }

async function getJSON(url) {
  const resp = await fetch(url, {cache: "no-store"});
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.status);
  return body;
}

function edgeLabel(e) {
  const parts = [];
  if (e.weight) parts.push(e.weight);
  if (e.kind === "traffic" || e.rps > 0) parts.push(fmtRps(e.rps) + " rps");
  if (e.error_ratio) parts.push(fmtRatio(e.error_ratio) + " 5xx");
  return parts.join(" · ");
}

function drawGraph(g) {
  const svg = document.getElementById("graph-svg");
  svg.replaceChildren();
  svg.setAttribute("width", g.width);
  svg.setAttribute("height", g.height);
  const defs = el("svg:defs");
  const marker = el("svg:marker", {id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
                                   markerWidth: "7", markerHeight: "7", orient: "auto"});
  marker.append(el("svg:path", {d: "M0,0 L10,5 L0,10 z", fill: "#555"}));
  defs.append(marker);
  svg.append(defs);
  const pos = Object.fromEntries(g.nodes.map(n => [n.id, n]));
  const labels = [];
  for (const e of g.edges) {
    const a = pos[e.source], b = pos[e.target];
    if (!a || !b) continue;
    const idle = !(e.rps > 0);
    const cls = ["edge", e.kind, idle ? "idle" : "", e.error_ratio > 0 ? "errors" : ""].join(" ");
    const grp = el("svg:g", {class: cls, "data-source": e.source, "data-target": e.target});
    const back = b.x <= a.x;  // a call back to an earlier column: go round below
    const sx = a.x + NODE_W, sy = a.y + NODE_H / 2, ex = back ? b.x + NODE_W / 2 : b.x, ey = back ? b.y + NODE_H : b.y + NODE_H / 2;
    const mid = (sx + ex) / 2;
    const d = back ? `M${sx},${sy} C${sx + 60},${sy + 80} ${ex},${ey + 60} ${ex},${ey}`
                   : `M${sx},${sy} C${mid},${sy} ${mid},${ey} ${ex},${ey}`;
    grp.append(el("svg:path", {d, "marker-end": "url(#arrow)"}));
    grp.append(el("svg:title", {}, `${a.label} → ${b.label}: ${edgeLabel(e)}`));
    svg.append(grp);
    const text = edgeLabel(e);
    if (text) {
      const t = el("svg:text", {x: back ? ex + 6 : ex - 8, y: back ? ey + 14 : ey - 6, "text-anchor": back ? "start" : "end"}, text);
      const lg = el("svg:g", {class: cls});
      lg.append(t);
      labels.push(lg);
    }
  }
  for (const n of g.nodes) {
    const grp = el("svg:g", {class: `node ${n.type}`, "data-id": n.id, transform: `translate(${n.x},${n.y})`});
    grp.append(el("svg:rect", {width: NODE_W, height: NODE_H, rx: n.type === "service" ? 16 : 5}));
    grp.append(el("svg:text", {x: 8, y: 18}, n.label));
    grp.append(el("svg:text", {x: 8, y: 34, class: "sub"}, (n.sublabel || "").slice(0, 30)));
    grp.append(el("svg:title", {}, n.id));
    svg.append(grp);
  }
  for (const l of labels) svg.append(l);
}

function drawEdges(g) {
  const label = Object.fromEntries(g.nodes.map(n => [n.id, n.label]));
  const body = document.querySelector("#edges tbody");
  body.replaceChildren();
  const edges = [...g.edges].sort((a, b) => (b.kind === "traffic") - (a.kind === "traffic")
                                            || label[a.source].localeCompare(label[b.source]));
  for (const e of edges) {
    const tr = el("tr", {"data-source": e.source, "data-target": e.target, "data-kind": e.kind,
                         "data-source-label": label[e.source], "data-target-label": label[e.target]});
    tr.append(el("td", {}, label[e.source]), el("td", {}, label[e.target]), el("td", {}, e.kind),
              el("td", {}, e.weight || ""), el("td", {class: "num rps"}, fmtRps(e.rps)),
              el("td", {class: "num errors"}, fmtRatio(e.error_ratio)));
    body.append(tr);
  }
}

function drawProxies(p) {
  const head = document.querySelector("#proxies thead");
  head.replaceChildren();
  const hr = el("tr");
  hr.append(el("th", {}, "NAME"), el("th", {}, "TYPE"), el("th", {}, "IP"));
  for (const t of p.types) hr.append(el("th", {}, t.toUpperCase()));
  head.append(hr);
  const body = document.querySelector("#proxies tbody");
  body.replaceChildren();
  for (const row of p.proxies) {
    const tr = el("tr", {"data-id": row.id, class: row.id === selectedProxy ? "selected" : ""});
    tr.append(el("td", {}, row.name), el("td", {}, row.type), el("td", {}, row.ip));
    for (const t of p.types) {
      const st = row.status[t];
      tr.append(el("td", {class: st, title: row.errors[t] || ""}, st));
    }
    tr.addEventListener("click", () => showProxy(row.id));
    body.append(tr);
  }
}

async function showProxy(id) {
  selectedProxy = id;
  const section = document.getElementById("config-section");
  const box = document.getElementById("config");
  section.hidden = false;
  document.getElementById("config-proxy").textContent = id;
  try {
    const c = await getJSON("/dashboard/api/proxy?id=" + encodeURIComponent(id));
    document.getElementById("config-raw").href = c.config_dump;
    box.replaceChildren();
    for (const [kind, table] of Object.entries(c.tables)) {
      box.append(el("h3", {}, `${kind}s (${table.rows.length})`));
      const t = el("table", {class: "config", "data-kind": kind});
      const hr = el("tr");
      for (const col of table.columns) hr.append(el("th", {}, col));
      t.append(hr);
      for (const r of table.rows) {
        const tr = el("tr");
        for (const cell of r) tr.append(el("td", {}, cell));
        t.append(tr);
      }
      box.append(t);
    }
  } catch (err) {
    box.replaceChildren(el("p", {class: "ERROR"}, String(err)));
  }
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const [g, p] = await Promise.all([getJSON("/dashboard/api/graph"), getJSON("/dashboard/api/proxies")]);
    drawGraph(g);
    drawEdges(g);
    drawProxies(p);
    document.getElementById("window").textContent = g.window_s || "-";
    const errs = Object.values(g.scrape.errors);
    const scrape = document.getElementById("scrape");
    scrape.textContent = `${g.scrape.metric} scraped from ${g.scrape.targets} proxies on :${g.scrape.port}` +
      (errs.length ? `; ${errs.length} not answering, e.g. ${errs[0]}` : "");
    scrape.title = errs.join("\n");
    status.textContent = "updated " + new Date().toLocaleTimeString();
    status.dataset.polls = String(Number(status.dataset.polls || 0) + 1);
  } catch (err) {
    status.textContent = "error: " + err;
  }
}

document.getElementById("config-close").addEventListener("click", () => {
  selectedProxy = null;
  document.getElementById("config-section").hidden = true;
});
poll();
setInterval(poll, POLL_MS);
