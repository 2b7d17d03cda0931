/* Keyboard: every daily action without the mouse; "?" lists them. */
import { openDialog } from "./actions.js";
import { markRead, select } from "./conversation.js";
import { focusSearch } from "./search.js";
import { focusStatus } from "./status.js";
import { $, conv, state } from "./state.js";

function typingInField(ev) {
  var t = ev.target;
  return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
}

function step(delta) {
  var ids = Array.prototype.map.call($("wb-mine").children, function (li) { return Number(li.dataset.id); });
  if (!ids.length) return;
  var i = ids.indexOf(state.current);
  i = delta > 0 ? (i + 1) % ids.length : (i <= 0 ? ids.length - 1 : i - 1);
  select(ids[i]);
}

export function initKeyboard() {
  document.addEventListener("keydown", function (ev) {
    if (document.querySelector("dialog[open]") && ev.key !== "F6") return; // the dialog has the keys
    if (ev.key === "F6") { ev.preventDefault(); focusStatus(); return; }
    if (ev.altKey && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) { ev.preventDefault(); step(ev.key === "ArrowDown" ? 1 : -1); return; }
    var key = ev.key.toLowerCase();
    if (ev.altKey && key === "a") { ev.preventDefault(); var first = $("wb-queue").querySelector(".wb-accept"); if (first) first.click(); return; }
    if (ev.altKey && key === "w" && state.current) { ev.preventDefault(); openDialog("wb-dlg-close"); return; }
    if (ev.altKey && key === "t" && state.current) { ev.preventDefault(); openDialog("wb-dlg-transfer"); return; }
    if (ev.altKey && key === "k") { ev.preventDefault(); focusSearch(); return; }
    if (!typingInField(ev) && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      if (ev.key === "?") { ev.preventDefault(); $("wb-dlg-keys").showModal(); return; }
      if (ev.key === "/") { ev.preventDefault(); focusSearch(); return; }
    }
  });
  $("wb-keys-open").addEventListener("click", function () { $("wb-dlg-keys").showModal(); });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.current) markRead(conv(state.current));
  });
}
