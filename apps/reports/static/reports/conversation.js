/* A supervisor's view of one conversation, live: new messages appear as they are written (by
 * seq, from the database after a drop), and the header follows status and assignee changes and
 * shows who else has the conversation open, typing or holding a draft (collision: this page says
 * it is viewing, so the agents see the supervisor watching; the customer never does). */
import { Handlers, SeqLog, Socket, api, el, wsUrl } from "../js/kefu/client.js";

var live = JSON.parse(document.getElementById("conversation-live").textContent);
var id = live.conversation_id;
var body = document.getElementById("transcript");
var stateEl = document.getElementById("live-state");
var log = new SeqLog(0);
Array.prototype.forEach.call(body.querySelectorAll("tr[data-seq]"), function (tr) { log.add(Number(tr.dataset.seq)); });

function time(iso) {
  var d = new Date(iso);
  function two(n) { return (n < 10 ? "0" : "") + n; }
  return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
}

function addMessage(m) {
  if (!log.add(m.seq)) return;
  var empty = body.querySelector(".empty-row");
  if (empty) empty.remove();
  var tr = el("tr", { dataset: { seq: m.seq }, class: m.visibility === "staff" ? "staff-only" : null });
  tr.appendChild(el("td", { class: "num" }, time(m.created_at)));
  var who = el("td", null, m.sender_name || live.senders[m.sender_kind] || "");
  if (m.visibility === "staff") { who.appendChild(document.createTextNode(" ")); who.appendChild(el("span", { class: "badge warn" }, live.staff_only)); }
  tr.appendChild(who);
  tr.appendChild(el("td", { class: "body" }, m.body || ""));
  // In seq order even when a replay arrives after a live message.
  var next = Array.prototype.find.call(body.querySelectorAll("tr[data-seq]"), function (row) { return Number(row.dataset.seq) > m.seq; });
  body.insertBefore(tr, next || null);
}

function refreshHead() {
  api("GET", "/api/v1/conversations/" + id + "/").then(function (c) {
    var badge = document.getElementById("conv-status");
    badge.dataset.status = c.status;
    badge.textContent = live.statuses[c.status] || c.status;
    document.getElementById("conv-assignee").textContent = (c.assignee_id && live.names[String(c.assignee_id)]) || "-";
  }).catch(function () { /* the next event tries again */ });
}

function forThis(fn) { return function (f) { var cid = f.conversation_id || (f.conversation && f.conversation.id); if (cid === id) fn(f); }; }

var viewersEl = document.getElementById("conv-viewers");
var viewersVersion = 0;
var REPORT_MS = 20000;

function renderViewers(list) {
  var others = (list || []).filter(function (v) { return v.user_id !== live.me; });
  viewersEl.hidden = !others.length;
  viewersEl.textContent = others.map(function (v) {
    return (live.viewers[v.state] || live.viewers.viewing).replace("%(name)s", v.name);
  }).join(" · ");
  viewersEl.dataset.states = others.map(function (v) { return v.state; }).join(",");
}

function reportViewing(state) {
  socket.send({ type: "viewing", conversation_id: id, state: state || "viewing", ref: "viewing" });
}

var handlers = new Handlers({
  "hello": function () {
    socket.send({ type: "subscribe", conversation_id: id, last_seq: log.last });
    reportViewing();
  },
  "viewers": function (f) { if (f.conversation_id === id) renderViewers(f.viewers); },
  "conversation.viewers": forThis(function (f) {
    if (f.version < viewersVersion) return; // an older list overtaken by a newer one
    viewersVersion = f.version;
    renderViewers(f.viewers);
  }),
  "message.created": forThis(function (f) { addMessage(f.message); }),
  "conversation.assigned": forThis(refreshHead),
  "conversation.updated": forThis(refreshHead),
  "conversation.closed": forThis(refreshHead),
  "conversation.transfer_requested": forThis(refreshHead),
  "conversation.transfer_resolved": forThis(refreshHead),
});
var socket = new Socket({
  url: function () { return wsUrl("/ws/agent/"); },
  handlers: handlers,
  onState: function (s) { stateEl.dataset.state = s; stateEl.textContent = live.state[s] || ""; },
}).start();
setInterval(function () { if (stateEl.dataset.state === "open") reportViewing(); }, REPORT_MS);
window.addEventListener("pagehide", function () { reportViewing("left"); });
