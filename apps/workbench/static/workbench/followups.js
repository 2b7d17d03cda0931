/* Follow-up tasks in the workbench (apps.reports FollowUpTask, docs/waiting-and-follow-ups.md):
 * the Follow-ups tab lists the open tasks I own (dissatisfied ratings, left messages, and the
 * ones I wrote myself), late ones in red; each is completed with an outcome and a written result;
 * "Follow up later" writes a new task on the current conversation. */
import { api, el, fmt, gettext as _ } from "../js/kefu/client.js";
import { flash } from "./actions.js";
import { select } from "./conversation.js";
import { $, now, state } from "./state.js";
import { fmtDateTime } from "./time.js";

var API_ = { list: "/api/v1/followups/?status=open&mine=1", one: function (id) { return "/api/v1/followups/" + id + "/"; }, create: "/api/v1/followups/" };
var SOURCE = { rating: _("Dissatisfied rating"), leave_message: _("Left message"), manual: _("Created by staff") };
var OUTCOMES = [["resolved", _("Resolved")], ["contacted", _("Contacted, more to do")], ["unreachable", _("Could not reach the customer")], ["no_action", _("Nothing to do")]];

var list = $("wb-followups"), empty = $("wb-followups-empty"), count = $("wb-followups-count");
var tasks = [];

function item(t) {
  var late = Date.parse(t.due_at) <= now();
  var li = el("li", { class: "wb-fu" + (late ? " late" : ""), dataset: { id: t.id } });
  var head = el("div", { class: "wb-fu-head" });
  head.appendChild(el("strong", null, t.customer_name || t.contact || _("Customer")));
  head.appendChild(el("span", { class: "wb-scope" }, SOURCE[t.source] || t.source));
  if (t.score) head.appendChild(el("span", { class: "muted" }, t.score + "★"));
  li.appendChild(head);
  if (t.text) li.appendChild(el("div", { class: "wb-fu-text" }, t.text));
  if (t.contact) li.appendChild(el("div", { class: "muted" }, t.contact));
  li.appendChild(el("div", { class: "wb-fu-due" }, fmt(late ? _("Overdue since %(time)s") : _("Due %(time)s"), { time: fmtDateTime(t.due_at) })));
  if (t.conversation_id) {
    var id = Number(t.conversation_id);
    var open = state.convs.has(id) && state.convs.get(id).data.status !== "closed"
      ? el("button", { type: "button", class: "link" }, _("Open conversation"))
      : el("a", { href: "/workbench/history/" + id + "/", target: "_blank" }, _("Transcript"));
    if (open.tagName === "BUTTON") open.addEventListener("click", function () { select(id); });
    li.appendChild(open);
  }
  var form = el("form", { class: "wb-fu-form" });
  var sel = el("select", { name: "outcome", "aria-label": _("Outcome") });
  sel.appendChild(el("option", { value: "" }, _("Outcome…")));
  OUTCOMES.forEach(function (o) { sel.appendChild(el("option", { value: o[0] }, o[1])); });
  if (t.outcome) sel.value = t.outcome;
  form.appendChild(sel);
  var result = el("textarea", { name: "result", rows: "2", maxlength: "2000", placeholder: _("What was done"), "aria-label": _("Result") });
  result.value = t.result || "";
  form.appendChild(result);
  form.appendChild(el("button", { type: "submit", class: "primary" }, _("Complete")));
  var err = el("span", { class: "wb-error-inline", role: "alert" });
  form.appendChild(err);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    err.textContent = "";
    var body = { result: result.value, done: true };
    if (sel.value) body.outcome = sel.value;
    api("PATCH", API_.one(t.id), body).then(function () {
      tasks = tasks.filter(function (x) { return x.id !== t.id; });
      render();
      flash(_("Follow-up completed."));
    }).catch(function (e) { err.textContent = e.message; });
  });
  li.appendChild(form);
  return li;
}

function render() {
  // Rows whose task did not change are kept as they are, with what the agent is typing in them
  // (the list is re-read every minute and when the tab opens).
  var keep = {};
  Array.prototype.forEach.call(list.children, function (li) { keep[li.dataset.id] = li; });
  list.textContent = "";
  tasks.forEach(function (t) {
    var sig = JSON.stringify(t) + (Date.parse(t.due_at) <= now() ? "late" : ""), old = keep[String(t.id)];
    var li = old && old.dataset.sig === sig ? old : item(t);
    li.dataset.sig = sig;
    list.appendChild(li);
  });
  empty.hidden = tasks.length > 0;
  var late = tasks.filter(function (t) { return Date.parse(t.due_at) <= now(); }).length;
  count.textContent = tasks.length ? String(tasks.length) : "";
  count.classList.toggle("late", late > 0);
}

export function refreshFollowups() {
  return api("GET", API_.list).then(function (res) { tasks = res.results || []; render(); }).catch(function () { /* next time */ });
}

var dialog = $("wb-dlg-followup");
$("wb-fu-new").addEventListener("click", function () {
  if (!state.current) { flash(_("Pick a conversation first."), true); return; }
  dialog.querySelector("form").reset();
  dialog.querySelector(".wb-error-inline").textContent = "";
  dialog.showModal();
});
dialog.querySelector("form").addEventListener("submit", function (ev) {
  if (ev.submitter && ev.submitter.value === "cancel") return;
  ev.preventDefault();
  var form = ev.target, hours = Number(form.due.value || 24);
  api("POST", API_.create, { conversation_id: state.current, note: form.note.value,
                             due_at: new Date(now() + hours * 3600000).toISOString() }).then(function (t) {
    dialog.close();
    tasks.push(t);
    tasks.sort(function (a, b) { return Date.parse(a.due_at) - Date.parse(b.due_at); });
    render();
    flash(_("Follow-up task created."));
  }).catch(function (e) { dialog.querySelector(".wb-error-inline").textContent = e.message; });
});

var tab = document.querySelector('.wb-tabs [data-tab="followups"]');
if (tab) tab.addEventListener("click", refreshFollowups);
refreshFollowups();
setInterval(refreshFollowups, 60000);
