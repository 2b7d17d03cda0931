/* The centre column: one conversation's messages, kept per conversation keyed by seq, so
 * switching never reloads and never loses a message; older pages load on scroll; after a drop
 * each open conversation is caught up from its last seq through REST. */
import { api, el, fetchAfter, fmt, gettext as _, safeUrl } from "../js/kefu/client.js";
import { alertUser } from "./alerts.js";
import { getDraft, resend, setDraft, focusComposer, clearSendError, setSendError } from "./composer.js";
import { renderMine } from "./lists.js";
import { loadAssist, loadCustomer } from "./panel.js";
import { sendFrame } from "./realtime.js";
import { $, API, PAGE, boot, conv, customerName, isMine, state } from "./state.js";
import { dayKey, dayLabel, fmtTime } from "./time.js";

export var box = $("wb-messages");

export function senderLabel(kind) {
  return { visitor: _("Customer"), agent: _("Agent"), bot: _("Bot"), system: _("System"), supervisor: _("Supervisor") }[kind] || _("System");
}

export function statusLabel(s) {
  return { active: _("In service"), transfer_pending: _("Transfer pending"), closed: _("Closed"), queued: _("Waiting in queue"), bot: _("With the bot") }[s] || "";
}

function isNotice(m) {
  return m.content_type === "system" || m.content_type === "event" || (m.sender_kind || "system") === "system";
}

// Features that change how a message looks (recall, ...): fn(message, node) after it is built.
var messageDecorators = [];
export function decorateMessage(fn) { messageDecorators.push(fn); }
// ... and that act on every message stored, however it came (live, replay, REST catch-up): fn(c, m).
var appendListeners = [];
export function onAppend(fn) { appendListeners.push(fn); }

export function msgNode(m) {
  var kind = m.sender_kind || "system";
  var cls = "wb-msg wb-msg-" + kind + (m.visibility === "staff" ? " wb-msg-staff" : "") + (m._pending ? " pending" : "") + (m._failed ? " failed" : "");
  if (isNotice(m)) cls = "wb-msg wb-msg-notice";
  var node = el("div", { class: cls, dataset: { seq: m.seq || "", cid: m.client_msg_id || "" } });
  if (!isNotice(m)) {
    var meta = el("div", { class: "wb-meta" });
    meta.appendChild(el("span", { class: "wb-sender" }, m.sender_name || senderLabel(kind)));
    meta.appendChild(el("time", { datetime: m.created_at || "" }, fmtTime(m.created_at)));
    node.appendChild(meta);
  }
  var body = el("div", { class: "wb-body" });
  var p = (m.payload && m.payload.attachment) || m.payload || {};
  if (m.content_type === "image" && safeUrl(p.url)) {
    var a = el("a", { href: safeUrl(p.url), target: "_blank", rel: "noopener" });
    a.appendChild(el("img", { src: safeUrl(p.thumbnail_url) || safeUrl(p.url), alt: p.name || _("Image"), loading: "lazy" }));
    body.appendChild(a);
    if (m.body) body.appendChild(el("div", null, m.body));
  } else if (m.content_type === "file" && safeUrl(p.url)) {
    body.appendChild(el("a", { href: safeUrl(p.url), target: "_blank", rel: "noopener", download: p.name || "" }, "📎 " + (p.name || m.body || _("File"))));
    if (p.size) body.appendChild(el("span", { class: "muted" }, " " + Math.ceil(p.size / 1024) + " KB"));
  } else {
    body.textContent = m.body || "";
  }
  node.appendChild(body);
  messageDecorators.forEach(function (fn) { fn(m, node); });
  if (m._failed) {
    var retry = el("button", { type: "button", class: "link" }, _("Failed. Retry"));
    retry.addEventListener("click", function () { resend(m); });
    node.appendChild(retry);
  }
  return node;
}

function daySeparator(iso) {
  return el("div", { class: "wb-day", role: "separator", dataset: { day: dayKey(iso) } }, dayLabel(iso));
}

/** Appends a message node, preceded by a day separator when the day changes. */
function appendNode(m) {
  if (m.created_at) {
    var day = dayKey(m.created_at);
    if (box.dataset.lastDay !== day) { box.appendChild(daySeparator(m.created_at)); box.dataset.lastDay = day; }
  }
  box.appendChild(msgNode(m));
}

export function readMark(c) {
  // Read state: the customer has read up to peerReadSeq.
  Array.prototype.forEach.call(box.querySelectorAll(".wb-msg-agent"), function (n) {
    var seq = Number(n.dataset.seq);
    n.classList.toggle("read", !!seq && seq <= c.peerReadSeq);
  });
}

export function renderConversation(c, keepScroll) {
  var prevHeight = box.scrollHeight, prevTop = box.scrollTop;
  box.textContent = "";
  box.dataset.lastDay = "";
  if (c.hasMore && c.loaded) {
    var more = el("button", { type: "button", class: "wb-more link" }, _("Load earlier messages"));
    more.addEventListener("click", function () { loadOlder(c); });
    box.appendChild(more);
  }
  var seqs = Array.from(c.messages.keys()).sort(function (a, b) { return a - b; });
  seqs.forEach(function (s) { appendNode(c.messages.get(s)); });
  c.pending.forEach(function (m) { appendNode(m); });
  readMark(c);
  if (keepScroll === "top") box.scrollTop = box.scrollHeight - prevHeight + prevTop;
  else if (keepScroll === "restore" && c.scroll !== null) box.scrollTop = c.scroll;
  else box.scrollTop = box.scrollHeight;
}

function appendMessage(c, m) {
  if (m.seq) {
    if (!c.seq.add(m.seq)) return false;
    c.messages.set(m.seq, m);
    if (m.client_msg_id) c.pending.delete(m.client_msg_id);
    if (c.data.last_seq === undefined || m.seq > c.data.last_seq) c.data.last_seq = m.seq;
    appendListeners.forEach(function (fn) { fn(c, m); });
  }
  return true;
}

/** Pending messages shown before the server stored them (the composer's). */
export function showPending(c, m) {
  c.pending.set(m.client_msg_id, m);
  if (state.current === c.id) { appendNode(m); box.scrollTop = box.scrollHeight; }
}

var assistTimer = null;
function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&"); }

export function onMessage(m) {
  var c = conv(m.conversation_id);
  var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  var wasPending = m.client_msg_id && c.pending.has(m.client_msg_id);
  if (!appendMessage(c, m)) return;
  if (m.visibility !== "staff" && m.content_type !== "event") {
    c.data.last_message_preview = (m.content_type === "text" ? m.body : "[" + (m.content_type === "image" ? _("Image") : m.content_type === "file" ? _("File") : _("Notice")) + "]").slice(0, 200);
    c.data.last_message_at = m.created_at;
  }
  if (m.sender_kind === "visitor") c.data.last_visitor_message_at = m.created_at;
  if (m.sender_kind === "agent" || m.sender_kind === "supervisor") c.data.last_agent_message_at = m.created_at;
  var visible = state.current === c.id && !document.hidden;
  if (m.sender_kind === "visitor") {
    if (!visible) {
      c.unread += 1;
      alertUser(fmt(_("New message from %(name)s"), { name: customerName(c.data) || _("Visitor") }),
                m.content_type === "text" ? (m.body || "").slice(0, 100) : _("[Attachment]"), c.id);
    } else {
      markRead(c);
    }
    if (state.current === c.id) {
      clearTimeout(assistTimer);
      assistTimer = setTimeout(function () { if (state.current === c.id) loadAssist(c); }, 800);
    }
  }
  if (state.current === c.id) {
    var old = wasPending && box.querySelector('.wb-msg[data-cid="' + cssEscape(m.client_msg_id) + '"]');
    if (old) old.replaceWith(msgNode(m)); else appendNode(m);
    readMark(c);
    if (atBottom || m.sender_kind === "agent") box.scrollTop = box.scrollHeight;
  }
  renderMine();
}

/** A sent message failed for good: show it with a retry link. */
export function markFailed(clientMsgId, message) {
  var found = false;
  state.convs.forEach(function (c) {
    var m = c.pending.get(clientMsgId);
    if (m) { found = true; m._failed = true; m._pending = false; setSendError(message || ""); if (state.current === c.id) renderConversation(c); }
  });
  return found;
}

function loadInitial(c) {
  return api("GET", API.messages(c.id) + "?limit=" + PAGE).then(function (res) {
    (res.messages || []).forEach(function (m) { appendMessage(c, m); });
    c.loaded = true;
    c.hasMore = !!res.has_more_before;
    if (state.current === c.id) renderConversation(c);
  }).catch(function (e) { if (state.current === c.id) box.appendChild(el("p", { class: "wb-error" }, e.message)); });
}

var loadingOlder = false;
function loadOlder(c) {
  if (loadingOlder || !c.hasMore || !c.minSeq) return;
  loadingOlder = true;
  api("GET", API.messages(c.id) + "?before_seq=" + c.minSeq + "&limit=" + PAGE).then(function (res) {
    (res.messages || []).forEach(function (m) { appendMessage(c, m); });
    c.hasMore = !!res.has_more_before;
    if (state.current === c.id) renderConversation(c, "top");
  }).finally(function () { loadingOlder = false; });
}

var catching = new Set();
/** Everything after our last seq, from the database (after a reconnect, a resync, or when the
 * periodic check finds the conversation further ahead than this page). */
export function catchUp(c) {
  if ((!c.loaded && !c.lastSeq) || catching.has(c.id)) return Promise.resolve();
  catching.add(c.id);
  return fetchAfter(api, API.messages(c.id), c.lastSeq, onMessage)
    .catch(function () { /* retried on the next check */ })
    .finally(function () { catching.delete(c.id); });
}

export function markRead(c) {
  if (!c.lastSeq || c.readSeq >= c.lastSeq) { c.unread = 0; return; }
  c.readSeq = c.lastSeq; c.unread = 0;
  if (!sendFrame({ type: "read", conversation_id: c.id, seq: c.lastSeq })) {
    api("POST", API.read(c.id), { seq: c.lastSeq }).catch(function () { /* best effort */ });
  }
  renderMine();
}

export function subscribe(c) {
  if (sendFrame({ type: "subscribe", conversation_id: c.id, last_seq: c.lastSeq })) c.subscribed = true;
}

// Things other modules show for the selected conversation (header badges, ...): fn(c).
var selectListeners = [];
export function onSelect(fn) { selectListeners.push(fn); }

/** Header and actions for the current conversation, e.g. after its status changed. */
export function renderHead(c) {
  $("wb-conv-title").textContent = customerName(c.data) || _("Visitor");
  $("wb-conv-sub").textContent = [c.data.channel_name || boot.channels[c.data.channel_id] || "", statusLabel(c.data.status)].filter(Boolean).join(" · ");
  $("wb-actions").hidden = !isMine(c);
  $("wb-composer").hidden = !isMine(c);
}

export function select(id) {
  id = Number(id);
  var prev = state.current && state.convs.get(state.current);
  if (prev) { prev.draft = getDraft(); prev.scroll = box.scrollTop; }
  state.current = id;
  var c = conv(id);
  renderHead(c);
  setDraft(c.draft || "");
  clearSendError();
  renderTyping(c);
  if (!c.loaded) {
    box.textContent = ""; box.appendChild(el("p", { class: "muted" }, _("Loading…")));
    loadInitial(c).then(function () { if (!c.subscribed) subscribe(c); markRead(c); });
  } else { renderConversation(c, "restore"); markRead(c); }
  renderMine();
  loadCustomer(c);
  loadAssist(c);
  selectListeners.forEach(function (fn) { fn(c); });
  if (history.replaceState) history.replaceState(null, "", "#c" + id);
  focusComposer();
}

export function renderTyping(c) {
  var t = c.typing && c.typing.until > Date.now() ? c.typing : null;
  $("wb-typing").textContent = t ? fmt(_("%(name)s is typing…"), { name: t.name || _("Customer") }) : "";
}

/** A local system line; not a message, so it never takes a seq. */
export function noticeLocal(id, text) {
  if (state.current === id) { box.appendChild(el("div", { class: "wb-msg wb-msg-notice local" }, text)); box.scrollTop = box.scrollHeight; }
}

export function initConversation() {
  box.addEventListener("scroll", function () {
    var c = state.current && conv(state.current);
    if (!c) return;
    c.scroll = box.scrollTop;
    if (box.scrollTop < 40) loadOlder(c);
  });
  setInterval(function () { if (state.current) renderTyping(conv(state.current)); }, 1000);
}
