/* My status and capacity (F6, F6b). The page shell's user menu has the same status control;
 * both follow the `kefu:status` document event, so they never disagree. */
import { api } from "../js/kefu/client.js";
import { $, API, state } from "./state.js";

var statusSel = $("wb-status"), maxInput = $("wb-max-chats"), meError = $("wb-me-error");
var onOnline = null;

export function showMeError(msg) { meError.textContent = msg || ""; meError.hidden = !msg; }

/** The server told us my status (an API answer or an agent.status event). */
export function statusChanged(status, maxChats) {
  state.me.status = status;
  statusSel.value = status === "offline" ? "invisible" : status;
  if (maxChats !== undefined && maxChats !== null) { state.me.max_chats = maxChats; maxInput.value = maxChats; }
  document.dispatchEvent(new CustomEvent("kefu:status", { detail: { status: status, source: "workbench" } }));
}

export function initStatus(whenOnline) {
  onOnline = whenOnline;
  statusSel.value = state.me.status === "offline" ? "invisible" : state.me.status;
  statusSel.addEventListener("change", function () {
    var wanted = statusSel.value;
    api("POST", API.status, { status: wanted }).then(function (u) {
      showMeError("");
      statusChanged(u.status || wanted);
      if (state.me.status === "online" && onOnline) onOnline();
    }).catch(function (e) { statusSel.value = state.me.status; showMeError(e.message); });
  });
  maxInput.addEventListener("change", function () {
    api("POST", API.maxChats, { max_chats: Number(maxInput.value) }).then(function (u) {
      state.me.max_chats = u.max_chats; showMeError("");
    }).catch(function (e) { maxInput.value = state.me.max_chats; showMeError(e.message); });
  });
  document.addEventListener("kefu:status", function (ev) {
    if (ev.detail.source === "workbench") return;
    state.me.status = ev.detail.status;
    statusSel.value = ev.detail.status === "offline" ? "invisible" : ev.detail.status;
    if (state.me.status === "online" && onOnline) onOnline();
  });
}

export function focusStatus() { statusSel.focus(); }
