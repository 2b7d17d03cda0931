/* WeChat platforms in the customer panel: how long and how many more replies the customer's
 * platform accepts (48 hours after their last message; 5 replies per message on mini-programs
 * and WeChat Customer Service), kept current as messages come and go, and the channel's
 * mini-program cards. The server decides (apps/channels/limits.py); this only shows it. */
import { api, el, fmt, gettext as _, uuid } from "../js/kefu/client.js";
import { flash } from "./actions.js";
import { addPanelSection } from "./panel.js";
import { handlers } from "./realtime.js";
import { now, state } from "./state.js";
import { fmtDateTime } from "./time.js";

var windows = new Map(); // conversation id -> {data, box}
var OUTBOUND = { agent: 1, supervisor: 1, salesperson: 1, bot: 1 };

function render(id) {
  var w = windows.get(id);
  if (!w || !w.box.isConnected) return;
  var d = w.data, box = w.box;
  box.textContent = "";
  box.appendChild(el("h4", null, fmt(_("%(platform)s reply window"), { platform: d.label })));
  var expires = d.expires_at ? Date.parse(d.expires_at) : 0;
  var remaining = d.quota === null ? null : Math.max(0, d.quota - d.sent);
  var open = expires > now() && (remaining === null || remaining > 0);
  var line = el("p", { class: "wb-reply-window " + (open ? "ok" : "closed"), "data-open": open ? "1" : "0" });
  if (!d.expires_at) {
    line.textContent = _("The customer has not written yet: WeChat accepts no reply until they do.");
  } else if (!open) {
    line.textContent = expires <= now()
      ? fmt(_("Closed: more than %(h)s hours since the customer's last message. Replies are not delivered until they write again."), { h: d.hours })
      : fmt(_("Closed: %(n)s replies sent since the customer's last message. Replies are not delivered until they write again."), { n: d.quota });
  } else if (remaining === null) {
    line.textContent = fmt(_("Replies accepted until %(time)s."), { time: fmtDateTime(d.expires_at) });
  } else {
    line.textContent = fmt(_("Replies accepted until %(time)s: %(left)s of %(quota)s left."),
      { time: fmtDateTime(d.expires_at), left: remaining, quota: d.quota });
  }
  box.appendChild(line);
}

function section(box, d, c) {
  if (d.reply_window) {
    var w = el("div", { class: "wb-platform" });
    box.appendChild(w);
    windows.set(c.id, { data: Object.assign({}, d.reply_window), box: w });
    render(c.id);
  }
  if (d.cards && d.cards.length) {
    box.appendChild(el("h4", null, _("Mini-program cards")));
    d.cards.forEach(function (card, index) {
      var b = el("button", { type: "button", class: "wb-card-send" }, card.title);
      b.title = card.pagepath;
      b.addEventListener("click", function () {
        b.disabled = true;
        api("POST", "/api/v1/channels/conversations/" + c.id + "/miniprogram-card/", { card: index, client_msg_id: uuid() })
          .catch(function (e) { flash(e.message, true); })
          .then(function () { b.disabled = false; });
      });
      box.appendChild(b);
    });
  }
}
addPanelSection(section);

handlers.on("message.created", function (f) {
  var m = f.message || {}, w = windows.get(Number(m.conversation_id));
  if (!w) return;
  if (m.sender_kind === "visitor") {
    w.data.sent = 0;
    w.data.expires_at = new Date(Date.parse(m.created_at) + w.data.hours * 3600000).toISOString();
  } else if (OUTBOUND[m.sender_kind] && m.visibility !== "staff" && m.content_type !== "event") {
    w.data.sent += 1;
  } else if (m.payload && m.payload.code === "reply_quota_used" && w.data.quota !== null) {
    w.data.sent = w.data.quota; // the platform's own count says no more
  } else if (m.payload && m.payload.code === "wechat_window_closed") {
    w.data.expires_at = new Date(now()).toISOString();
  }
  render(Number(m.conversation_id));
});

// The window closes by itself with time.
setInterval(function () { if (state.current) render(state.current); }, 30000);
