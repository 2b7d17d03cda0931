/* Service levels in the workbench (apps/sla, docs/sla.md): each conversation in my list and in
 * the queue shows the time left on its current target (first response until someone answered,
 * then resolution), green, amber from the policy's warning instant, red once late, grey while
 * the resolution clock is paused (waiting for the customer). The server sends instants only
 * (working hours are already counted in them); they are compared with the server's clock.
 * A breach (`sla.breached`) alerts live: a line in #wb-sla-alerts, the beep and a desktop
 * notification. */
import { el, fmt, gettext as _ } from "../js/kefu/client.js";
import { alertUser } from "./alerts.js";
import { onSelect, select } from "./conversation.js";
import { decorateMine, decorateQueue, fmtWait } from "./lists.js";
import { handlers } from "./realtime.js";
import { $, conv, customerName, now, state } from "./state.js";
import { fmtDateTime } from "./time.js";

var KIND = { first_response: _("First response"), resolution: _("Resolution") };
var STAFF = { agent: 1, supervisor: 1, salesperson: 1 };

/** The target that counts now: {kind, due, warn, paused, breached} (ms), or null. */
export function slaTarget(d) {
  var s = d && d.sla;
  if (!s) return null;
  if (s.first_response_due && !s.first_response_at && !d.first_response_at) {
    return { kind: "first_response", due: Date.parse(s.first_response_due), warn: s.first_response_warn_at ? Date.parse(s.first_response_warn_at) : null,
             paused: false, breached: !!s.first_response_breached };
  }
  if (s.resolution_due) {
    return { kind: "resolution", due: Date.parse(s.resolution_due), warn: s.resolution_warn_at ? Date.parse(s.resolution_warn_at) : null,
             paused: !!s.resolution_paused, breached: !!s.resolution_breached };
  }
  return null;
}

/** "ok" | "soon" | "late" | "paused" at instant t. */
export function slaState(target, t) {
  if (target.paused) return "paused";
  if (target.breached || t >= target.due) return "late";
  if (target.warn !== null && t >= target.warn) return "soon";
  return "ok";
}

function paint(span, d) {
  var target = slaTarget(d);
  span.hidden = !target;
  if (!target) { span.className = "wb-sla"; span.dataset.sla = ""; return; }
  var t = now(), st = slaState(target, t);
  span.className = "wb-sla sla-" + st;
  span.dataset.sla = st;
  span.dataset.kind = target.kind;
  span.title = fmt(_("%(target)s due %(time)s"), { target: KIND[target.kind], time: fmtDateTime(new Date(target.due).toISOString()) });
  if (st === "paused") span.textContent = fmt(_("%(target)s paused"), { target: KIND[target.kind] });
  else if (st === "late") span.textContent = fmt(_("%(target)s late %(t)s"), { target: KIND[target.kind], t: fmtWait((t - target.due) / 1000) });
  else span.textContent = fmt(_("%(target)s %(t)s left"), { target: KIND[target.kind], t: fmtWait((target.due - t) / 1000) });
}

function decorate(li, d) {
  var span = li.querySelector(".wb-sla");
  if (!span) { span = el("span", { class: "wb-sla" }); li.appendChild(span); }
  paint(span, d);
}
decorateMine(function (li, c) { decorate(li, c.data); });
decorateQueue(function (li, q) { decorate(li, q); });

function repaint() {
  Array.prototype.forEach.call(document.querySelectorAll("#wb-mine .wb-item, #wb-queue .wb-item"), function (li) {
    var span = li.querySelector(".wb-sla"), id = Number(li.dataset.id);
    if (!span) return;
    var d = li.parentNode.id === "wb-queue" ? state.queue.get(id) : state.convs.has(id) && conv(id).data;
    if (d) paint(span, d);
  });
  var head = $("wb-conv-sla");
  if (head) {
    var c = state.current && state.convs.get(state.current);
    if (c) paint(head, c.data); else head.hidden = true;
  }
}
setInterval(repaint, 1000);
onSelect(function (c) { paint($("wb-conv-sla"), c.data); });

// My (visible) reply meets the first-response target: the list stops counting it at once.
handlers.on("message.created", function (f) {
  var m = f.message || {};
  if (!STAFF[m.sender_kind] || m.visibility === "staff" || m.content_type === "event" || m.content_type === "system") return;
  var c = state.convs.get(Number(m.conversation_id));
  if (c && c.data.sla && !c.data.first_response_at && c.data.assigned_at) c.data.first_response_at = m.created_at;
});

var alertsBox = $("wb-sla-alerts");

function alertLine(f) {
  var b = f.breach || {}, id = Number(f.conversation_id);
  var c = state.convs.get(id), d = (c && c.data) || state.queue.get(id) || null;
  var name = (d && customerName(d)) || fmt(_("Conversation #%(id)s"), { id: id });
  var text = fmt(_("%(name)s: %(target)s target missed (due %(time)s)"),
                 { name: name, target: KIND[b.kind] || "", time: fmtDateTime(b.due_at) });
  var li = el("li", { class: "wb-sla-alert", dataset: { id: id, kind: b.kind || "" } });
  li.appendChild(el("span", { class: "wb-sla-alert-text" }, text));
  var open = el("button", { type: "button", class: "link" }, _("Open"));
  open.addEventListener("click", function () { select(id); });
  var dismiss = el("button", { type: "button", class: "link", "aria-label": _("Dismiss") }, "×");
  dismiss.addEventListener("click", function () { li.remove(); alertsBox.hidden = !alertsBox.querySelector("li"); });
  li.appendChild(open);
  li.appendChild(dismiss);
  return { li: li, text: text };
}

handlers.on("sla.breached", function (f) {
  var b = f.breach || {}, id = Number(f.conversation_id);
  var d = state.convs.has(id) ? conv(id).data : state.queue.get(id);
  if (d && d.sla) d.sla[b.kind + "_breached"] = true;
  if (alertsBox.querySelector('li[data-id="' + id + '"][data-kind="' + b.kind + '"]')) return;
  var line = alertLine(f);
  alertsBox.querySelector("ul").prepend(line.li);
  alertsBox.hidden = false;
  alertUser(_("SLA breached"), line.text, id);
  repaint();
});
