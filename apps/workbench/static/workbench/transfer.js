/* The transfer dialog: agents and skill groups with their live status and load. Who cannot take
 * the conversation now is shown with the reason and cannot be picked; a skill group can always be
 * chosen as a queue, and the conversation can go back to the queue for the next free agent. */
import { api, el, fmt, gettext as _ } from "../js/kefu/client.js";
import { renderHead } from "./conversation.js";
import { renderMine } from "./lists.js";
import { $, API, conv, state } from "./state.js";

var dlg = $("wb-dlg-transfer"), box = $("wb-transfer-targets"), filter = $("wb-transfer-filter");
var data = null, timer = null, chosen = "";

function option(value, title, detail, opts) {
  opts = opts || {};
  var label = el("label", { class: "wb-target" + (opts.disabled ? " disabled" : ""), dataset: { search: (title + " " + (opts.search || "")).toLowerCase() } });
  var radio = el("input", { type: "radio", name: "target", value: value, disabled: !!opts.disabled });
  if (value === chosen && !opts.disabled) radio.checked = true;
  label.appendChild(radio);
  var main = el("span", { class: "wb-target-main" });
  main.appendChild(el("strong", null, title));
  if (opts.status) main.appendChild(el("span", { class: "badge", dataset: { status: opts.status } }, opts.statusLabel));
  if (opts.load) main.appendChild(el("span", { class: "wb-load" }, opts.load));
  label.appendChild(main);
  if (detail) label.appendChild(el("span", { class: "wb-target-detail muted" }, detail));
  return label;
}

function render() {
  if (!data) return;
  var q = filter.value.trim().toLowerCase();
  box.textContent = "";
  var agents = el("fieldset", { class: "wb-target-group" });
  agents.appendChild(el("legend", null, _("Agents")));
  data.agents.forEach(function (a) {
    agents.appendChild(option("agent:" + a.id, a.name, a.available ? a.branch : a.reason, {
      disabled: !a.available, status: a.status, statusLabel: a.status_label, load: a.load + " / " + a.max_chats, search: a.branch,
    }));
  });
  if (!data.agents.length) agents.appendChild(el("p", { class: "muted" }, _("No colleague can take conversations.")));
  box.appendChild(agents);
  var groups = el("fieldset", { class: "wb-target-group" });
  groups.appendChild(el("legend", null, _("Skill groups")));
  data.skill_groups.forEach(function (g) {
    if (g.available_members) {
      groups.appendChild(option("group:" + g.id, g.name,
        fmt(_("%(n)s can take it now, %(seats)s free seats"), { n: g.available_members, seats: g.free_seats })));
    }
    groups.appendChild(option("queue:" + g.id, fmt(_("Transfer to the queue of %(name)s"), { name: g.name }),
      g.available_members ? _("The first member with a free seat takes it.") : _("Nobody can take it now: the customer waits in that queue and sees their place."),
      { search: g.name }));
  });
  groups.appendChild(option("queue:", _("Back to the queue"), _("Routing gives it to the next free agent.")));
  box.appendChild(groups);
  if (q) Array.prototype.forEach.call(box.querySelectorAll(".wb-target"), function (l) { l.hidden = l.dataset.search.indexOf(q) < 0; });
}

function load() {
  var id = state.current;
  return api("GET", API.transferTargets(id)).then(function (d) { if (state.current === id) { data = d; render(); } })
    .catch(function (e) { box.textContent = ""; box.appendChild(el("p", { class: "wb-error" }, e.message)); });
}

/** The dialog opened: targets now, and again every few seconds while it stays open. */
export function transferDialogOpened() {
  data = null; chosen = "";
  box.textContent = ""; box.appendChild(el("p", { class: "muted" }, _("Loading…")));
  load();
  clearInterval(timer);
  timer = setInterval(function () { if (dlg.open) load(); else clearInterval(timer); }, 4000);
  filter.focus();
}

/** Someone's status or load changed: the open dialog shows it at once. */
export function transferTargetsStale() { if (dlg.open) load(); }

export function initTransfer(dialogError, flash) {
  box.addEventListener("change", function (ev) { if (ev.target.name === "target") chosen = ev.target.value; });
  filter.addEventListener("input", render);
  dlg.addEventListener("close", function () { clearInterval(timer); });
  $("wb-transfer-form").addEventListener("submit", function (ev) {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    var picked = box.querySelector("input[name=target]:checked");
    if (!picked) { dialogError(dlg, _("Choose an agent, a skill group or a queue.")); return; }
    var parts = picked.value.split(":"), kind = parts[0], target = parts[1] ? Number(parts[1]) : null;
    var body = { note: ev.target.note.value };
    if (kind === "agent") body.to_agent = target;
    else if (kind === "group") body.to_skill_group = target;
    else { body.to_queue = true; if (target) body.to_skill_group = target; }
    var id = state.current;
    api("POST", API.transfer(id), body).then(function (res) {
      dlg.close();
      if (kind === "queue") {
        conv(id, res); // back in the queue: no longer mine
        flash(_("The conversation went back to the queue."));
      } else {
        conv(id, { status: "transfer_pending" });
        flash(_("Transfer requested."));
      }
      if (state.current === id) renderHead(conv(id));
      renderMine();
    }).catch(function (e) { dialogError(dlg, e.message); load(); });
  });
}
