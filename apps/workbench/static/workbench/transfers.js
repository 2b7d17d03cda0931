/* Transfer requests addressed to me: accept or decline. */
import { api, el, fmt, gettext as _ } from "../js/kefu/client.js";
import { flash } from "./actions.js";
import { alertUser } from "./alerts.js";
import { select } from "./conversation.js";
import { renderMine } from "./lists.js";
import { $, API, boot, conv, customerName, state } from "./state.js";

function agentName(id) {
  var a = boot.agents.find(function (x) { return x.id === id; });
  return a ? a.name : "";
}

export function renderTransfers() {
  var list = $("wb-transfers");
  list.textContent = "";
  state.transfers.forEach(function (t, tid) {
    var cd = t.conversation || {};
    var li = el("li", { class: "wb-item wb-transfer", dataset: { id: tid } });
    li.appendChild(el("span", { class: "wb-item-name" }, customerName(cd) || _("Visitor")));
    var from = t.transfer.from_agent_name || agentName(t.transfer.from_agent_id);
    if (from) li.appendChild(el("span", { class: "muted" }, fmt(_("from %(name)s"), { name: from })));
    if (t.transfer.note) li.appendChild(el("span", { class: "wb-item-last" }, t.transfer.note));
    var ok = el("button", { type: "button", class: "wb-accept" }, _("Accept"));
    var no = el("button", { type: "button" }, _("Decline"));
    ok.addEventListener("click", function () {
      ok.disabled = true;
      api("POST", API.transferAccept(tid), {}).then(function (res) {
        state.transfers.delete(tid); renderTransfers();
        var d = res.conversation || cd;
        conv(d.id, d); conv(d.id).data.assignee_id = state.me.id; conv(d.id).data.status = "active";
        renderMine(); select(d.id);
      }).catch(function (e) { ok.disabled = false; flash(e.message, true); });
    });
    no.addEventListener("click", function () {
      api("POST", API.transferDecline(tid), {}).then(function () { state.transfers.delete(tid); renderTransfers(); })
        .catch(function (e) { flash(e.message, true); });
    });
    li.appendChild(ok); li.appendChild(no);
    list.appendChild(li);
  });
  $("wb-transfers-box").hidden = !state.transfers.size;
}

export function transferRequested(tr, conversation) {
  state.transfers.set(tr.id, { transfer: tr, conversation: conversation });
  renderTransfers();
  alertUser(_("Transfer request"), customerName(conversation), conversation && conversation.id);
}

export function refreshTransfers() {
  return api("GET", API.transfers).then(function (res) {
    var rows = res.results || res;
    if (!Array.isArray(rows)) return;
    state.transfers.clear();
    rows.forEach(function (t) {
      if (t.status && t.status !== "pending") return;
      var known = state.convs.get(t.conversation_id) || state.queue.get(t.conversation_id);
      state.transfers.set(t.id, { transfer: t, conversation: t.conversation || (known && (known.data || known)) || { id: t.conversation_id } });
    });
    renderTransfers();
  }).catch(function () { /* not available */ });
}
