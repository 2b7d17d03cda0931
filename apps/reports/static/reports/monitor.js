/* Live monitor (/ws/monitor/): full snapshots of the supervisor's subtree, pushed when anything
 * changes. Used by the supervisor centre's overview and its monitor page: each renders the parts
 * its page has (cards, queues, agents, alerts). */
import { Handlers, Socket, el, fmt, wsUrl } from "../js/kefu/client.js";

var labels = JSON.parse(document.getElementById("monitor-labels").textContent);
var drill = document.getElementById("drill-branch");
var live = document.getElementById("live-state");

function setText(selector, value) {
  document.querySelectorAll(selector).forEach(function (n) { n.textContent = value; });
}
function fmtWait(s) {
  s = Math.max(0, Math.floor(s || 0));
  var m = Math.floor(s / 60), r = s % 60;
  return m ? fmt(labels.wait_min, { m: m, s: r }) : fmt(labels.wait_sec, { s: r });
}
function rows(id, items, fill, empty) {
  var body = document.getElementById(id);
  if (!body) return;
  body.replaceChildren();
  if (!items.length) {
    var cols = body.closest("table").querySelectorAll("thead th").length || 1;
    var tr = el("tr"); tr.appendChild(el("td", { class: "empty", colspan: String(cols) }, empty)); body.appendChild(tr);
    return;
  }
  items.forEach(function (it) { var tr = el("tr"); fill(tr, it); body.appendChild(tr); });
}
function cell(tr, text, opts) {
  opts = opts || {};
  var td = el("td", opts.cls ? { class: opts.cls } : null);
  if (opts.href) td.appendChild(el("a", { href: opts.href }, text));
  else if (opts.badge) td.appendChild(el("span", { class: "badge", dataset: { status: opts.badge } }, text));
  else td.textContent = text;
  tr.appendChild(td);
}

function render(s) {
  ["bot", "queued", "active", "transfer_pending"].forEach(function (k) { setText("[data-count=" + k + "]", String(s.conversations[k] || 0)); });
  // Today's figures arrive formatted by the server (apps.reports.metrics): the same text as the
  // report page, with no second definition of a figure or of its format here.
  var shown = (s.today && s.today.display) || {};
  document.querySelectorAll("[data-today]").forEach(function (n) { n.textContent = shown[n.dataset.today] || "-"; });
  var by = s.agents_by_status || {};
  var serving = (by.online || 0) + (by.busy || 0);
  setText("[data-agents=serving]", String(serving) + " / " + String(s.agents.length));
  rows("queues", s.queues, function (tr, q) {
    cell(tr, q.branch); cell(tr, String(q.length), { cls: "num" }); cell(tr, fmtWait(q.longest_wait_s), { cls: "num" });
  }, labels.no_queue);
  rows("agents", s.agents, function (tr, a) {
    tr.dataset.agent = a.id; tr.dataset.status = a.status;
    cell(tr, a.name, { href: labels.history_url + "?agent=" + a.id }); cell(tr, a.branch);
    cell(tr, labels.status[a.status] || a.status, { badge: a.status });
    cell(tr, a.active_chats + " / " + a.max_chats, { cls: "num" });
  }, labels.no_agents);
  var byStatus = document.getElementById("agents-by-status");
  if (byStatus) byStatus.textContent = Object.keys(by).map(function (k) { return (labels.status[k] || k) + " " + by[k]; }).join(" · ");
  rows("alerts", s.alerts, function (tr, a) {
    cell(tr, a.customer || labels.conversation, { href: "/supervisor/conversations/" + Number(a.conversation_id) + "/" });
    cell(tr, a.keyword); cell(tr, a.excerpt); cell(tr, a.agent || "-");
  }, labels.no_alerts);
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
}

render(JSON.parse(document.getElementById("initial-snapshot").textContent));

var socket = new Socket({
  url: function () { return wsUrl("/ws/monitor/"); },
  handlers: new Handlers({ "monitor.snapshot": function (f) { render(f.snapshot); } }),
  onOpen: function () { if (drill && drill.value) socket.send({ type: "drill", branch_id: Number(drill.value) }); },
  onState: function (state) { if (live) { live.dataset.state = state; live.textContent = labels.state[state] || ""; } },
  maxDelayMs: 15000,
}).start();

if (drill) drill.addEventListener("change", function () {
  socket.send({ type: "drill", branch_id: drill.value ? Number(drill.value) : null });
});
