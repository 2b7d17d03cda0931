/* The staff page shell: the user menu (status and language) of every staff page. No inline
 * scripts or handlers anywhere: behaviour is attached here from data attributes. */
import { api } from "./kefu/client.js";

// Selects marked data-autosubmit submit their form when changed (the language switch).
document.addEventListener("change", function (ev) {
  var t = ev.target;
  if (t && t.matches && t.matches("select[data-autosubmit]") && t.form) t.form.submit();
});

// Menus close on Escape and on a click elsewhere.
document.addEventListener("keydown", function (ev) {
  if (ev.key !== "Escape") return;
  document.querySelectorAll("details.user-menu[open]").forEach(function (d) { d.open = false; d.querySelector("summary").focus(); });
});
document.addEventListener("click", function (ev) {
  document.querySelectorAll("details.user-menu[open]").forEach(function (d) { if (!d.contains(ev.target)) d.open = false; });
});

// My status, from any page. The workbench's own control and this one follow `kefu:status`.
var statusSel = document.getElementById("shell-status");
var dot = document.getElementById("shell-status-dot");
var statusError = document.getElementById("shell-status-error");
function showStatus(status) {
  if (dot) dot.dataset.status = status;
  if (statusSel) { statusSel.value = status === "offline" ? "invisible" : status; statusSel.dataset.current = status; }
}
if (statusSel) {
  statusSel.addEventListener("change", function () {
    var wanted = statusSel.value;
    api("POST", "/api/v1/me/status/", { status: wanted }).then(function (u) {
      statusError.hidden = true;
      showStatus(u.status || wanted);
      document.dispatchEvent(new CustomEvent("kefu:status", { detail: { status: u.status || wanted, source: "shell" } }));
    }).catch(function (e) {
      statusSel.value = statusSel.dataset.current === "offline" ? "invisible" : statusSel.dataset.current;
      statusError.textContent = e.message; statusError.hidden = false;
    });
  });
  document.addEventListener("kefu:status", function (ev) { if (ev.detail.source !== "shell") showStatus(ev.detail.status); });
}
