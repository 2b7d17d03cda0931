/* "Waiting for the customer" (apps/routing/waiting.py, docs/waiting-and-follow-ups.md): park the
 * current conversation with an optional reminder, resume it, see which of mine are waiting; the
 * reminder (`conversation.reminder`) alerts live. The customer's reply wakes it on the server,
 * which tells us with `conversation.updated`. */
import { api, el, fmt, gettext as _ } from "../js/kefu/client.js";
import { flash } from "./actions.js";
import { alertUser } from "./alerts.js";
import { noticeLocal, onSelect } from "./conversation.js";
import { decorateMine, renderMine } from "./lists.js";
import { handlers } from "./realtime.js";
import { $, conv, customerName, isMine, now, state } from "./state.js";
import { fmtDateTime } from "./time.js";

var URL_ = function (id) { return "/api/v1/routing/conversations/" + id + "/waiting/"; };
var button = $("wb-act-wait"), dialog = $("wb-dlg-wait");

function renderButton() {
  var c = state.current && state.convs.get(state.current);
  if (!c || !isMine(c) || c.data.status !== "active") { button.hidden = true; return; }
  button.hidden = false;
  var waiting = !!c.data.waiting_since;
  button.textContent = waiting ? _("Resume") : _("Wait for customer");
  button.dataset.waiting = waiting ? "1" : "0";
}

decorateMine(function (li, c) {
  var tag = li.querySelector(".wb-waiting-tag");
  if (!tag) { tag = el("span", { class: "wb-waiting-tag" }); li.insertBefore(tag, li.querySelector(".wb-item-last")); }
  tag.hidden = !c.data.waiting_since;
  tag.textContent = c.data.waiting_since ? _("Waiting for customer") : "";
  tag.title = c.data.remind_at ? fmt(_("Reminder at %(time)s"), { time: fmtDateTime(c.data.remind_at) }) : "";
  li.classList.toggle("is-waiting", !!c.data.waiting_since);
});

function applied(id, d, text) {
  conv(id, d);
  renderMine(); renderButton();
  noticeLocal(id, text);
}

function resume(id) {
  api("DELETE", URL_(id)).then(function (d) { applied(id, d, _("Back in service.")); })
    .catch(function (e) { flash(e.message, true); });
}

button.addEventListener("click", function () {
  var id = state.current;
  if (!id) return;
  if (button.dataset.waiting === "1") { resume(id); return; }
  dialog.querySelector("form").reset();
  dialog.querySelector(".wb-error-inline").textContent = "";
  dialog.showModal();
});

dialog.querySelector("form").addEventListener("submit", function (ev) {
  if (ev.submitter && ev.submitter.value === "cancel") return;
  ev.preventDefault();
  var id = state.current, minutes = Number(ev.target.remind.value || 0);
  // Relative to the server's clock, so neither the browser's clock nor its zone matters.
  var body = minutes ? { remind_at: new Date(now() + minutes * 60000).toISOString() } : {};
  api("POST", URL_(id), body).then(function (d) {
    dialog.close();
    applied(id, d, d.remind_at ? fmt(_("Waiting for the customer; reminder at %(time)s."), { time: fmtDateTime(d.remind_at) })
                               : _("Waiting for the customer."));
  }).catch(function (e) { dialog.querySelector(".wb-error-inline").textContent = e.message; });
});

onSelect(renderButton);
handlers.on("conversation.updated", function (f) { if (f.conversation && f.conversation.id === state.current) renderButton(); });
handlers.on("conversation.closed", renderButton);
handlers.on("conversation.reminder", function (f) {
  var id = Number(f.conversation_id), c = state.convs.get(id);
  if (c) c.data.remind_at = null;
  var name = (c && customerName(c.data)) || fmt(_("Conversation #%(id)s"), { id: id });
  alertUser(_("Reminder"), fmt(_("%(name)s is still waiting for a reply from the customer."), { name: name }), id);
  noticeLocal(id, _("Reminder: this conversation is waiting for the customer."));
  renderMine();
});
