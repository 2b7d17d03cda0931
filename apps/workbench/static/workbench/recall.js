/* Recalling a message (撤回, apps/messaging/recall.py): my own text, image or file message can be
 * recalled within the company's window (a "Recall" link on it while the window lasts); a recalled
 * message shows "消息已撤回" for everyone, supervisors may look at the original. The recall
 * arrives as a message of its own (content_type "event", payload.code "message_recalled") with its
 * own seq, so a page that was away applies it when it catches up. */
import { api, el, fmt, gettext as _ } from "../js/kefu/client.js";
import { flash } from "./actions.js";
import { box, decorateMessage, msgNode, onAppend, onSelect } from "./conversation.js";
import { renderMine } from "./lists.js";
import { $, boot, now, state } from "./state.js";
import { fmtTime } from "./time.js";

var WINDOW_MS = (boot.recall_seconds || 0) * 1000;
var RECALLABLE = { text: 1, image: 1, file: 1 };
var STAFF = { agent: 1, supervisor: 1, salesperson: 1 };
var PLATFORM_KEEPS = { wechat: 1, wecom: 1, miniprogram: 1 };
var URL_ = {
  recall: function (cid, mid) { return "/api/v1/im/conversations/" + cid + "/messages/" + mid + "/recall/"; },
  originals: function (cid) { return "/api/v1/im/conversations/" + cid + "/recalls/"; },
};

function isNoticeOfRecall(m) { return m.content_type === "event" && m.payload && m.payload.code === "message_recalled"; }

function recallable(m) {
  return WINDOW_MS > 0 && m.id && m.seq && !m._pending && !m.recalled_at && RECALLABLE[m.content_type] &&
    STAFF[m.sender_kind] && m.sender_id === state.me.id && now() - Date.parse(m.created_at) < WINDOW_MS;
}

function rerender(c, seq) {
  if (state.current !== c.id) return;
  var old = box.querySelector('.wb-msg[data-seq="' + Number(seq) + '"]');
  var m = c.messages.get(Number(seq));
  if (old && m) old.replaceWith(msgNode(m));
}

// Whatever path brought the notice (live, replay, REST catch-up), the stored message is emptied.
onAppend(function (c, m) {
  if (!isNoticeOfRecall(m)) return;
  var target = c.messages.get(Number(m.payload.seq));
  if (!target || target.recalled_at) return;
  if (c.data.last_message_preview && target.body && target.body.slice(0, 200) === c.data.last_message_preview) {
    c.data.last_message_preview = _("[Recalled]");
  }
  target.body = ""; target.payload = {}; target.recalled_at = m.created_at;
  rerender(c, target.seq);
  setTimeout(renderMine, 0);
});

function showOriginal(cid, seq, holder, button) {
  button.disabled = true;
  api("GET", URL_.originals(cid)).then(function (res) {
    var row = (res.results || []).filter(function (r) { return r.seq === seq; })[0];
    button.remove();
    holder.appendChild(el("div", { class: "wb-recalled-original" },
      row ? fmt(_("Original (recalled by %(name)s at %(time)s): %(text)s"), { name: row.recalled_by, time: fmtTime(row.recalled_at), text: row.body || "[" + row.content_type + "]" }) : _("Not found.")));
  }).catch(function (e) { button.disabled = false; flash(e.message, true); });
}

decorateMessage(function (m, node) {
  if (isNoticeOfRecall(m)) { node.hidden = true; node.classList.add("wb-recall-notice"); return; }
  var body = node.querySelector(".wb-body");
  if (m.recalled_at) {
    node.classList.add("wb-msg-recalled");
    body.textContent = _("Message recalled");
    if (state.me.is_manager) {
      var b = el("button", { type: "button", class: "link wb-recall-original" }, _("Show original"));
      b.addEventListener("click", function () { showOriginal(m.conversation_id, m.seq, node, b); });
      node.appendChild(b);
    }
    return;
  }
  if (!recallable(m)) return;
  var link = el("button", { type: "button", class: "link wb-recall", dataset: { until: String(Date.parse(m.created_at) + WINDOW_MS) } }, _("Recall"));
  link.addEventListener("click", function () {
    link.disabled = true;
    api("POST", URL_.recall(m.conversation_id, m.id), {}).then(function (res) {
      if (res.platform_recalled === false) flash(_("Recalled here; the customer's WeChat still shows the message."), true);
    }).catch(function (e) { link.disabled = false; flash(e.message, true); });
  });
  var meta = node.querySelector(".wb-meta");
  (meta || node).appendChild(link);
});

// The window closes by itself: the links go away when it has passed.
setInterval(function () {
  var t = now();
  Array.prototype.forEach.call(document.querySelectorAll("#wb-messages .wb-recall"), function (b) {
    if (t >= Number(b.dataset.until)) b.remove();
  });
}, 2000);

// Official platforms keep what they delivered: say so before the agent sends.
var hint = el("span", { id: "wb-recall-hint", class: "muted wb-recall-hint", hidden: true }, _("WeChat cannot take back a sent message: recalling hides it here only."));
var bar = document.querySelector("#wb-composer .wb-composer-bar");
if (bar) bar.insertBefore(hint, bar.querySelector("#wb-send-error"));
onSelect(function (c) { hint.hidden = !PLATFORM_KEEPS[c.data.channel_kind]; });
