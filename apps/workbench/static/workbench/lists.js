/* The left column: the waiting queue and my conversations (F7, F10, F13, F14). */
import { api, el, fmt, gettext as _, renderKeyed } from "../js/kefu/client.js";
import { alertUser, updateTitle } from "./alerts.js";
import { select } from "./conversation.js";
import { showMeError } from "./status.js";
import { $, API, conv, customerName, isMine, now, state } from "./state.js";

export function fmtWait(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
  return h ? h + ":" + mm + ":" + ss : m + ":" + ss;
}

/** F10: since when the customer has been waiting for us (their last message unanswered). */
function waitingSince(c) {
  var v = c.data.last_visitor_message_at, a = c.data.last_agent_message_at;
  if (!v && !a) v = c.data.queued_at || c.data.assigned_at || c.data.created_at; // nobody answered yet
  if (!v) return null;
  if (a && Date.parse(a) >= Date.parse(v)) return null;
  return Date.parse(v);
}

function byWaitThenRecent(x, y) {
  var wx = waitingSince(x), wy = waitingSince(y);
  if (wx !== null && wy !== null) return wx - wy;
  if (wx !== null) return -1;
  if (wy !== null) return 1;
  return (Date.parse(y.data.last_message_at || y.data.created_at || 0) || 0) - (Date.parse(x.data.last_message_at || x.data.created_at || 0) || 0);
}

// Extra per-item decorations other features add (SLA colours, collision, ...): fn(li, c).
var mineDecorators = [];
export function decorateMine(fn) { mineDecorators.push(fn); }
var queueDecorators = []; // the same for the queue: fn(li, conversationDict)
export function decorateQueue(fn) { queueDecorators.push(fn); }

export function renderMine() {
  var items = [];
  state.convs.forEach(function (c) { if (isMine(c)) items.push(c); });
  items.sort(byWaitThenRecent);
  renderKeyed($("wb-mine"), items, function (c) { return c.id; }, buildMineItem, fillMineItem);
  $("wb-mine-count").textContent = items.length;
  $("wb-mine-empty").hidden = items.length > 0;
  updateTitle();
}
function buildMineItem(c) {
  var li = el("li", { class: "wb-item", role: "option", tabindex: "-1", dataset: { id: c.id } });
  li.appendChild(el("span", { class: "wb-item-name" }));
  li.appendChild(el("span", { class: "wb-badge" }));
  li.appendChild(el("span", { class: "wb-wait" }));
  li.appendChild(el("span", { class: "wb-item-last" }));
  li.addEventListener("click", function () { select(c.id); });
  return li;
}
function fillMineItem(li, c) {
  li.querySelector(".wb-item-name").textContent = customerName(c.data) || _("Visitor");
  var badge = li.querySelector(".wb-badge");
  badge.textContent = c.unread > 99 ? "99+" : String(c.unread);
  badge.hidden = !c.unread;
  li.querySelector(".wb-item-last").textContent = c.data.last_message_preview || "";
  li.classList.toggle("active", state.current === c.id);
  li.classList.toggle("transfer-pending", c.data.status === "transfer_pending");
  li.setAttribute("aria-selected", state.current === c.id ? "true" : "false");
  var since = waitingSince(c);
  li.dataset.waitingSince = since === null ? "" : String(since);
  mineDecorators.forEach(function (fn) { fn(li, c); });
}

export function renderQueue() {
  var items = Array.from(state.queue.values()).sort(function (a, b) {
    return (b.priority || 0) - (a.priority || 0) || Date.parse(a.queued_at || a.created_at) - Date.parse(b.queued_at || b.created_at);
  });
  renderKeyed($("wb-queue"), items, function (q) { return q.id; }, buildQueueItem, fillQueueItem);
  $("wb-queue-count").textContent = items.length;
  $("wb-queue-empty").hidden = items.length > 0;
  tick();
  updateTitle();
}
function buildQueueItem(q) {
  var li = el("li", { class: "wb-item wb-queue-item", dataset: { id: q.id } });
  li.appendChild(el("span", { class: "wb-item-name" }));
  li.appendChild(el("span", { class: "wb-wait" }));
  li.appendChild(el("span", { class: "wb-item-last" }));
  var accept = el("button", { type: "button", class: "wb-accept" }, _("Accept"));
  accept.addEventListener("click", function (ev) { ev.stopPropagation(); acceptConv(Number(li.dataset.id), accept); });
  li.appendChild(accept);
  return li;
}
function fillQueueItem(li, q) {
  li.dataset.since = String(Date.parse(q.queued_at || q.created_at));
  li.querySelector(".wb-item-name").textContent = customerName(q) || _("Visitor");
  li.querySelector(".wb-item-last").textContent = q.last_message_preview || q.channel_name || "";
  li.querySelector(".wb-accept").disabled = false;
  queueDecorators.forEach(function (fn) { fn(li, q); });
}

export function tick() {
  var t = now();
  Array.prototype.forEach.call(document.querySelectorAll("#wb-queue .wb-item"), function (li) {
    li.querySelector(".wb-wait").textContent = fmtWait((t - Number(li.dataset.since)) / 1000);
  });
  Array.prototype.forEach.call(document.querySelectorAll("#wb-mine .wb-item"), function (li) {
    var since = li.dataset.waitingSince;
    var w = li.querySelector(".wb-wait");
    w.textContent = since ? fmtWait((t - Number(since)) / 1000) : "";
    li.classList.toggle("waiting-long", !!since && t - Number(since) > 60000);
  });
}

export function acceptConv(id, button) {
  if (button) button.disabled = true;
  api("POST", API.accept(id), {}).then(function (res) {
    var data = res.conversation || res;
    state.queue.delete(Number(id));
    conv(id, data);
    if (!conv(id).data.assignee_id) conv(id).data.assignee_id = state.me.id;
    renderQueue(); renderMine(); select(id);
  }).catch(function (e) {
    if (button) button.disabled = false;
    showMeError(e.message);
    if (e.status === 409 || e.status === 404) { state.queue.delete(Number(id)); renderQueue(); }
  });
}

export function refreshQueue() {
  return api("GET", API.queue).then(function (res) {
    var rows = res.results || res;
    if (!Array.isArray(rows)) return;
    state.queue.clear();
    rows.forEach(function (q) { state.queue.set(q.id, q); });
    renderQueue();
  }).catch(function () { /* dispatch API not reachable: keep what we have */ });
}

export function refreshMine(catchUp) {
  return api("GET", API.mine).then(function (res) {
    var rows = res.results || res;
    if (!Array.isArray(rows)) return;
    var ids = new Set(rows.map(function (d) { return d.id; }));
    rows.forEach(function (d) {
      var c = conv(d.id), known = c.data.last_seq || 0;
      conv(d.id, d);
      // The database is the truth: a wake-up lost on the way is caught up by seq here.
      if (d.last_seq > c.lastSeq) {
        if (c.loaded || c.lastSeq) catchUp(c);
        else if (d.last_seq > known && known) {
          c.unread += d.last_seq - known;
          alertUser(fmt(_("New message from %(name)s"), { name: customerName(d) || _("Visitor") }), d.last_message_preview || "", d.id);
        }
      }
    });
    // Anything the server no longer lists as mine has left my hands (closed or transferred).
    state.convs.forEach(function (c) { if (isMine(c) && !ids.has(c.id)) c.data.assignee_id = null; });
    renderMine();
  }).catch(function () { /* keep the bootstrap list */ });
}
