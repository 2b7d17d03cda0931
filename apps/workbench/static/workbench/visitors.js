/* The Visitors tab: who is on the sites this agent serves right now (/ws/visitors/, connected when
 * the tab is first opened), and inviting one of them to chat (apps/visitors/invitations.py).
 * Titles and addresses come from visitors' browsers: text only, links only through safeUrl. */
import { Handlers, Socket, api, el, fmt, gettext as _, safeUrl, wsUrl } from "../js/kefu/client.js";
import { flash } from "./actions.js";
import { $ } from "./state.js";

var DEVICES = { desktop: _("Computer"), mobile: _("Phone"), tablet: _("Tablet"), bot: _("Robot"), other: _("Other device") };
var socket = null;

function render(snapshot) {
  var list = $("wb-visitors");
  list.replaceChildren();
  var rows = snapshot.visitors || [];
  $("wb-visitors-count").textContent = rows.length ? String(rows.length) : "";
  $("wb-visitors-empty").hidden = rows.length > 0;
  rows.forEach(function (v) {
    var li = el("li", { class: "wb-item wb-visitor", "data-visit": String(v.id) });
    var href = safeUrl(v.url);
    var title = v.title || v.url;
    li.appendChild(href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer", class: "wb-item-name" }, title)
                        : el("span", { class: "wb-item-name" }, title));
    li.appendChild(el("div", { class: "muted" }, [v.region, DEVICES[v.device] || v.device, fmt(_("%(n)s pages"), { n: v.pages })].filter(Boolean).join(" · ")));
    var button = el("button", { type: "button", class: "wb-invite" }, v.chatting ? _("Chatting") : v.invited ? _("Invited") : _("Invite"));
    button.disabled = !!(v.chatting || v.invited);
    button.addEventListener("click", function () {
      button.disabled = true;
      api("POST", "/api/v1/visitors/" + Number(v.id) + "/invite/", { message: $("wb-invite-message").value })
        .then(function () { button.textContent = _("Invited"); flash(_("Invitation sent.")); })
        .catch(function (e) { button.disabled = false; flash(e.message, true); });
    });
    li.appendChild(button);
    list.appendChild(li);
  });
}

function start() {
  if (socket) return;
  socket = new Socket({
    url: function () { return wsUrl("/ws/visitors/"); },
    handlers: new Handlers({ "visitors.snapshot": function (f) { render(f.snapshot); } }),
    maxDelayMs: 15000,
  }).start();
}

var tab = document.querySelector('.wb-tabs [data-tab="visitors"]');
if (tab) tab.addEventListener("click", start);
