/* Internal notes and @mentions (apps/messaging/mentions.py): the "Internal note" switch makes the
 * composer write a staff-only note; "@" + a colleague's name in a note tells that colleague live
 * (a line under "Mentions", the beep and a desktop notification that opens the conversation) and
 * lets them view the conversation. Names are matched on the server (apps/messaging/mentions.py). */
import { api, el, fmt, gettext as _ } from "../js/kefu/client.js";
import { alertUser } from "./alerts.js";
import { setNoteMode } from "./composer.js";
import { select } from "./conversation.js";
import { handlers } from "./realtime.js";
import { $, conv, customerName, state } from "./state.js";
import { fmtTime } from "./time.js";

var URL_ = { list: "/api/v1/im/mentions/", read: function (id) { return "/api/v1/im/mentions/" + id + "/read/"; } };

// --- the note switch and @ names ------------------------------------------------------------
var bar = document.querySelector("#wb-composer .wb-composer-bar");
var label = el("label", { class: "wb-note-switch", title: _("Only colleagues see internal notes") });
var box = el("input", { type: "checkbox", id: "wb-note" });
label.appendChild(box);
label.appendChild(document.createTextNode(" " + _("Internal note")));
if (bar) bar.insertBefore(label, bar.firstChild.nextSibling);
box.addEventListener("change", function () {
  setNoteMode(box.checked);
  $("wb-composer").classList.toggle("note-mode", box.checked);
  $("wb-input").placeholder = box.checked ? _("Internal note: only colleagues see it. @name tells a colleague.") : $("wb-input").dataset.placeholder;
});
$("wb-input").dataset.placeholder = $("wb-input").placeholder;

// --- my mentions ----------------------------------------------------------------------------
var section = el("section", { class: "wb-mentions", id: "wb-mentions", hidden: true });
section.appendChild(el("h2", null, _("Mentions")));
var ul = el("ul", { class: "wb-list" });
section.appendChild(ul);
var anchor = $("wb-transfers-box");
if (anchor) anchor.parentNode.insertBefore(section, anchor);

function render(m) {
  if (ul.querySelector('li[data-id="' + m.id + '"]')) return;
  var c = state.convs.get(Number(m.conversation_id));
  var who = (c && customerName(c.data)) || fmt(_("Conversation #%(id)s"), { id: m.conversation_id });
  var li = el("li", { class: "wb-item wb-mention", dataset: { id: m.id, conversation: m.conversation_id } });
  li.appendChild(el("span", { class: "wb-item-name" }, fmt(_("%(author)s mentioned you"), { author: m.author_name })));
  li.appendChild(el("span", { class: "wb-wait" }, fmtTime(m.created_at)));
  li.appendChild(el("span", { class: "wb-item-last" }, who + ": " + m.excerpt));
  li.addEventListener("click", function () {
    select(Number(m.conversation_id));
    api("POST", URL_.read(m.id), {}).catch(function () { /* marked next time */ });
    li.remove();
    section.hidden = !ul.querySelector("li");
  });
  ul.prepend(li);
  section.hidden = false;
}

handlers.on("mention.created", function (f) {
  var m = f.mention || {};
  render(m);
  conv(m.conversation_id); // known to this page from now on
  alertUser(fmt(_("%(author)s mentioned you"), { author: m.author_name }), m.excerpt, Number(m.conversation_id));
});

api("GET", URL_.list).then(function (res) { (res.results || []).slice().reverse().forEach(render); }).catch(function () {});
