/* Collision detection (apps/messaging/collision.py): this page tells the server which conversation
 * it has open and whether I am typing in it or left a draft; the header shows who else is on it
 * ("王主管 is viewing", "小李 is typing…", "小李 has an unsent draft"). The server keeps the state
 * in Redis and sends `conversation.viewers` to the staff concerned, never to the customer. */
import { fmt, gettext as _ } from "../js/kefu/client.js";
import { onSelect } from "./conversation.js";
import { handlers, sendFrame } from "./realtime.js";
import { $, conv, state } from "./state.js";

var REFRESH_MS = 20000, IDLE_MS = 4000;
var box = $("wb-presence"), input = $("wb-input");
var open = null, mine = "viewing", idleTimer = null;

function report(id, st) {
  if (!id) return;
  sendFrame({ type: "viewing", conversation_id: id, state: st });
}

function setMine(st) {
  if (st === mine) return;
  mine = st;
  report(open, st);
}

function others(list) { return (list || []).filter(function (v) { return v.user_id !== state.me.id; }); }

export function renderPresence() {
  var c = state.current && state.convs.get(state.current);
  var list = c ? others(c.viewers) : [];
  box.hidden = !list.length;
  box.textContent = list.map(function (v) {
    var tpl = v.state === "typing" ? _("%(name)s is typing…") : v.state === "draft" ? _("%(name)s has an unsent draft") : _("%(name)s is viewing");
    return fmt(tpl, { name: v.name });
  }).join(" · ");
  box.dataset.states = list.map(function (v) { return v.state; }).join(",");
}

onSelect(function (c) {
  if (open && open !== c.id) report(open, "left");
  open = c.id; mine = "viewing";
  report(open, input.value.trim() ? "draft" : "viewing");
  renderPresence();
});

input.addEventListener("input", function () {
  if (!open) return;
  setMine(input.value.trim() ? "typing" : "viewing");
  clearTimeout(idleTimer);
  idleTimer = setTimeout(function () { setMine(input.value.trim() ? "draft" : "viewing"); }, IDLE_MS);
});
$("wb-composer").addEventListener("submit", function () { setTimeout(function () { setMine("viewing"); }, 0); });

handlers.on("conversation.viewers", function (f) {
  var c = conv(f.conversation_id);
  if ((c.viewersVersion || 0) > f.version) return; // an older list overtaken by a newer one
  c.viewersVersion = f.version;
  c.viewers = f.viewers || [];
  if (state.current === c.id) renderPresence();
});
handlers.on("hello", function () { if (open) report(open, mine); }); // a new socket: say it again
setInterval(function () { if (open && state.connected) report(open, mine); }, REFRESH_MS);
window.addEventListener("pagehide", function () { if (open) report(open, "left"); });
