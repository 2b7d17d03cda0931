/* The visitor chat, running inside the widget iframe on our own origin.
 *
 * Protocol: docs/protocol.md (POST /api/v1/visitor/sessions/ for a token, then /ws/visitor/?token=).
 * The socket, seq tracking, REST calls and the URL check come from the shared client module
 * (static/js/kefu/client.js); incoming frames are dispatched through its map of handlers.
 * Message content is only ever put in the page with textContent / attributes, never innerHTML.
 */
import { Handlers, SeqLog, Socket, createApi, el as make, fmt, safeUrl, uuid, wsUrl } from "../js/kefu/client.js";

var cfg = JSON.parse(document.getElementById("kf-config").textContent);
var S = cfg.strings;
var $ = function (id) { return document.getElementById(id); };
var els = {
  app: $("kf-app"), status: $("kf-status"), banner: $("kf-banner"), messages: $("kf-messages"),
  typing: $("kf-typing"), panel: $("kf-panel"), composer: $("kf-composer"), input: $("kf-input"),
  send: $("kf-send"), file: $("kf-file"), close: $("kf-close"), suggest: $("kf-suggest")
};
var embedded = window.parent !== window;
if (/^#[0-9a-fA-F]{6}$/.test(cfg.theme_color || "")) document.documentElement.style.setProperty("--kf-color", cfg.theme_color);
var storeKey = "kefu.vid." + cfg.channel;

var state = {
  identity: null, token: null, visitorId: null, connected: false,
  conv: null,            // {id, status, seq: SeqLog, subscribed}
  outbox: [],            // frames to (re)send until acked: sends are idempotent by client_msg_id
  pendingEls: {},        // client_msg_id -> bubble element
  afterStart: [],        // actions waiting for the conversation to exist
  starting: false, rated: {}, visible: !embedded, unread: 0,
  suggestOff: false, prechatDone: false, leaveShown: false
};

// ---------------------------------------------------------------- helpers
function el(tag, cls, text) { return make(tag, cls ? { class: cls } : null, text); }
function storageGet(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }
function storageSet(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode */ } }
function toParent(msg) { if (embedded) { msg.kefu = msg.kefu || "event"; window.parent.postMessage(msg, "*"); } }
function setStatus(text) { els.status.textContent = text; }
function scrollDown() { els.messages.scrollTop = els.messages.scrollHeight; }

// The visitor's token, not a session cookie, authenticates every call.
var api = createApi({
  credentials: "omit",
  headers: function () { return state.token ? { "Authorization": "Visitor " + state.token } : {}; },
  fallback: function () { return S.error; },
});

function banner(text, kind) {
  if (!text) { els.banner.hidden = true; els.banner.textContent = ""; return; }
  els.banner.hidden = false;
  els.banner.className = "kf-banner" + (kind ? " kf-banner-" + kind : "");
  els.banner.textContent = text;
}

function notice(text) {
  var row = el("div", "kf-row kf-system");
  row.appendChild(el("div", "kf-notice", text));
  els.messages.appendChild(row);
  scrollDown();
}

// ---------------------------------------------------------------- messages
function recalledRow(seq) {
  var row = el("div", "kf-row kf-system kf-recalled");
  row.appendChild(el("div", "kf-notice", S.recalled));
  row.setAttribute("data-seq", seq);
  return row;
}

/** 撤回: the agent recalled an earlier message (its own seq carries the notice, so a client that
 * was away gets it on resume); the message is shown as "消息已撤回" in its place. */
function applyRecall(m) {
  var seq = m.payload && m.payload.seq;
  var old = seq && els.messages.querySelector('[data-seq="' + Number(seq) + '"]');
  if (old) old.parentNode.replaceChild(recalledRow(Number(seq)), old);
}

function renderMessage(m) {
  if (m.visibility && m.visibility !== "all") return;
  if (!state.conv.seq.add(m.seq)) return; // a duplicate wake-up or replay
  if (m.content_type === "event" && m.payload && m.payload.code === "message_recalled") { applyRecall(m); return; }
  if (m.recalled_at) { els.messages.appendChild(recalledRow(m.seq)); scrollDown(); return; }
  var pending = m.client_msg_id && state.pendingEls[m.client_msg_id];
  var mine = m.sender_kind === "visitor";
  var row;
  if (m.sender_kind === "system" || m.content_type === "system" || m.content_type === "event") {
    row = el("div", "kf-row kf-system");
    row.appendChild(el("div", "kf-notice", m.body));
  } else {
    row = el("div", "kf-row " + (mine ? "kf-mine" : "kf-theirs"));
    if (!mine) row.appendChild(el("div", "kf-name", m.sender_name || (m.sender_kind === "bot" ? S.bot : S.agent)));
    var bubble = el("div", "kf-bubble");
    var payload = m.payload || {};
    var att = payload.attachment || {};
    var url = safeUrl(att.url || payload.url);
    if (m.content_type === "image" && url) {
      var img = el("img", "kf-image");
      img.alt = att.name || "";
      img.src = url;
      img.addEventListener("load", scrollDown);
      bubble.appendChild(img);
    } else if (m.content_type === "file") {
      if (url) {
        var a = el("a", "kf-file", "📎 " + (att.name || payload.name || S.file));
        a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer";
        bubble.appendChild(a);
      } else {
        bubble.appendChild(el("span", "kf-file", "📎 " + (payload.name || S.file)));
      }
      if (m.body) bubble.appendChild(el("div", "kf-text", m.body));
    } else {
      bubble.appendChild(el("div", "kf-text", m.body));
    }
    row.appendChild(bubble);
  }
  row.setAttribute("data-seq", m.seq);
  if (pending && pending.parentNode) {
    pending.parentNode.replaceChild(row, pending);
    delete state.pendingEls[m.client_msg_id];
  } else {
    els.messages.appendChild(row);
  }
  if (!mine && m.sender_kind !== "system") {
    els.typing.hidden = true;
    if (!state.visible) { state.unread += 1; toParent({ kefu: "unread", count: state.unread }); }
  }
  scrollDown();
}

function pendingBubble(id, text, isImage) {
  var row = el("div", "kf-row kf-mine kf-pending");
  var bubble = el("div", "kf-bubble");
  bubble.appendChild(el("div", "kf-text", isImage ? "🖼 " + S.sending : text));
  row.appendChild(bubble);
  row.appendChild(el("div", "kf-state", S.sending));
  row.setAttribute("data-client-id", id);
  els.messages.appendChild(row);
  state.pendingEls[id] = row;
  scrollDown();
  return row;
}

function markFailed(id) {
  var row = state.pendingEls[id];
  if (!row) return;
  row.classList.add("kf-failed");
  var st = row.querySelector(".kf-state");
  if (st) st.textContent = S.failed;
  state.outbox = state.outbox.filter(function (f) { return f.client_msg_id !== id; });
}

// ---------------------------------------------------------------- status of the conversation
function applyStatus(status) {
  if (!state.conv) return;
  var before = state.conv.status;
  state.conv.status = status;
  if (status === "queued") {
    refreshQueue();
  } else if (status === "active") {
    // "…为您服务" is a system message of the conversation (in its true place by seq), not a local line.
    state.conv.served = true;
    banner(null);
    setStatus(S.connected);
  } else if (status === "closed") {
    banner(S.closed, "closed");
    toParent({ kefu: "active", value: false });
    // Only a conversation an agent served can be rated; otherwise offer a new one.
    var served = state.conv.served || before === "active" || before === "transfer_pending";
    if (served && !state.rated[state.conv.id]) showRating();
    else showNewChat();
  } else {
    banner(null);
  }
}

function showQueue(position, seconds, agentsOnline, asOf) {
  if (!state.conv || state.conv.status !== "queued" || !position) return;
  // Places arrive on different paths and may cross: keep the one read last.
  if (asOf) {
    if (state.queueAsOf && asOf < state.queueAsOf) return;
    state.queueAsOf = asOf;
  }
  if (agentsOnline === false) {
    // Nobody can serve now: say so and offer a message instead of promising a wait.
    banner(fmt(S.queued_no_agent, { position: position }), "queue");
    var leave = el("button", "kf-link", S.leave_button);
    leave.type = "button";
    leave.addEventListener("click", function () { showLeaveMessage(S.no_agent, "no_agent"); });
    els.banner.appendChild(leave);
  } else if (seconds) {
    banner(fmt(S.queued, { position: position, minutes: Math.max(1, Math.round(seconds / 60)) }), "queue");
  } else {
    banner(fmt(S.queued_short, { position: position }), "queue");
  }
  els.banner.setAttribute("data-position", position);
  els.banner.setAttribute("data-agents-online", agentsOnline === false ? "0" : "1");
}

function refreshQueue() {
  if (!state.conv) return;
  api("GET", cfg.api_base + "widget/conversations/" + state.conv.id + "/queue/").then(function (q) {
    if (q && q.position) showQueue(q.position, q.estimated_wait_seconds, q.agents_online, q.as_of);
  }).catch(function () { /* the next conversation.queued event will tell */ });
}

// ---------------------------------------------------------------- panels: pre-chat, rating, leave a message
function clearPanel() { els.panel.hidden = true; while (els.panel.firstChild) els.panel.removeChild(els.panel.firstChild); }

function field(form, name, label, opts) {
  opts = opts || {};
  var wrap = el("label", "kf-field");
  wrap.appendChild(el("span", "kf-label", label));
  var input = el(opts.multiline ? "textarea" : "input");
  input.name = name;
  if (!opts.multiline) input.type = opts.type || "text";
  if (opts.required) input.required = true;
  if (opts.maxLength) input.maxLength = opts.maxLength;
  wrap.appendChild(input);
  form.appendChild(wrap);
  return input;
}

function showPrechat(onDone) {
  clearPanel();
  els.panel.hidden = false;
  var form = el("form", "kf-form kf-prechat");
  form.appendChild(el("div", "kf-form-title", S.prechat_title));
  var inputs = {};
  cfg.prechat_fields.forEach(function (f) {
    inputs[f] = field(form, f, S[f] || f, { required: f === "name" || f === "phone", type: f === "email" ? "email" : (f === "phone" ? "tel" : "text"), maxLength: 100, multiline: f === "subject" });
  });
  var button = el("button", "kf-primary", S.start);
  button.type = "submit";
  form.appendChild(button);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var data = {};
    Object.keys(inputs).forEach(function (k) { data[k] = inputs[k].value.trim(); });
    button.disabled = true;
    api("POST", cfg.api_base + "widget/profile/", data).then(function () {
      state.prechatDone = true;
      clearPanel();
      onDone(data.subject || "");
    }).catch(function (e) { button.disabled = false; notice(e.message); });
  });
  els.panel.appendChild(form);
  var first = form.querySelector("input,textarea");
  if (first) first.focus();
}

function showRating() {
  if (!state.conv || state.rated[state.conv.id] || els.panel.querySelector(".kf-rating")) return;
  var convId = state.conv.id;
  clearPanel();
  els.panel.hidden = false;
  var form = el("form", "kf-form kf-rating");
  form.appendChild(el("div", "kf-form-title", S.rating_title));
  var stars = el("div", "kf-stars");
  var score = 0;
  var label = el("div", "kf-star-label", "");
  var buttons = [];
  for (var i = 1; i <= 5; i++) {
    (function (n) {
      var b = el("button", "kf-star", "★");
      b.type = "button";
      b.setAttribute("data-score", n);
      b.setAttribute("aria-label", S.stars[n - 1]);
      b.addEventListener("click", function () {
        score = n;
        buttons.forEach(function (x, idx) { x.classList.toggle("kf-on", idx < n); });
        label.textContent = S.stars[n - 1];
      });
      buttons.push(b);
      stars.appendChild(b);
    })(i);
  }
  form.appendChild(stars);
  form.appendChild(label);
  var tags = el("div", "kf-tags");
  var chosen = {};
  (cfg.rating_tags || []).forEach(function (t) {
    var b = el("button", "kf-tag", t);
    b.type = "button";
    b.addEventListener("click", function () { chosen[t] = !chosen[t]; b.classList.toggle("kf-on", !!chosen[t]); });
    tags.appendChild(b);
  });
  form.appendChild(tags);
  var comment = field(form, "comment", S.rating_comment, { multiline: true, maxLength: 1000 });
  var submit = el("button", "kf-primary", S.rating_submit);
  submit.type = "submit";
  form.appendChild(submit);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!score) { label.textContent = S.rating_pick; return; }
    submit.disabled = true;
    api("POST", cfg.api_base + "widget/conversations/" + convId + "/rating/", {
      score: score, tags: Object.keys(chosen).filter(function (k) { return chosen[k]; }), comment: comment.value.trim()
    }).then(function () {
      state.rated[convId] = true;
      clearPanel();
      notice(S.rating_thanks);
      if (state.conv && state.conv.status === "closed") showNewChat();
    }).catch(function (e) {
      submit.disabled = false;
      if (e.data && e.data.error && e.data.error.code === "already_rated") { state.rated[convId] = true; clearPanel(); }
      notice(e.message);
    });
  });
  els.panel.appendChild(form);
}

function showNewChat() {
  var b = el("button", "kf-primary kf-newchat", S.new_chat);
  b.type = "button";
  b.addEventListener("click", function () {
    b.parentNode && b.parentNode.removeChild(b);
    state.conv = null;
    banner(null); clearPanel();
    els.input.focus();
  });
  els.messages.appendChild(b);
  scrollDown();
}

function showLeaveMessage(reasonText, reason) {
  if (state.leaveShown) return;
  state.leaveShown = true;
  clearPanel();
  els.panel.hidden = false;
  els.composer.hidden = true;
  var form = el("form", "kf-form kf-leave");
  form.appendChild(el("div", "kf-form-title", S.leave_title));
  form.appendChild(el("div", "kf-form-note", reasonText || cfg.offline_message));
  if (cfg.service_hours_text) form.appendChild(el("div", "kf-form-note", cfg.service_hours_text));
  var name = field(form, "name", S.name, { maxLength: 100 });
  var contact = field(form, "contact", S.leave_contact, { required: true, maxLength: 100 });
  var content = field(form, "content", S.leave_content, { required: true, multiline: true, maxLength: 2000 });
  var submit = el("button", "kf-primary", S.leave_submit);
  submit.type = "submit";
  form.appendChild(submit);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    submit.disabled = true;
    api("POST", cfg.api_base + "widget/leave-message/", {
      name: name.value.trim(), contact: contact.value.trim(), content: content.value.trim(), reason: reason || "off_hours"
    }).then(function () {
      clearPanel();
      notice(S.leave_thanks);
    }).catch(function (e) { submit.disabled = false; notice(e.message); });
  });
  els.panel.appendChild(form);
}

// ---------------------------------------------------------------- websocket
var socket = null;

function rawSend(frame) { return socket ? socket.send(frame) : false; }

function newConv(id, status) { return { id: id, status: status, seq: new SeqLog(0), subscribed: false }; }

function flush() {
  if (!state.connected || !state.conv || !state.conv.subscribed) return;
  state.outbox.forEach(function (f) { f.conversation_id = state.conv.id; rawSend(f); });
}

function connect() {
  if (!state.token) return;
  if (socket) { socket.reconnectNow(); return; }
  socket = new Socket({
    url: function () { return wsUrl(cfg.ws_path + "?token=" + encodeURIComponent(state.token)); },
    handlers: handlers,
    maxDelayMs: 10000,
    onState: function (s) { if (s === "connecting") setStatus(S.connecting); else if (s === "reconnecting") setStatus(S.reconnecting); },
    onClose: function (ev) {
      state.connected = false;
      if (state.conv) state.conv.subscribed = false;
      if (ev && ev.code === 4403) { setStatus(S.refused); banner(S.refused, "closed"); return false; }
      if (ev && ev.code === 4401) {
        // The token expired: a new session, then the same socket loop again.
        startSession().then(function () { socket.start(); }, function () { setTimeout(function () { socket.start(); }, 5000); });
        return false;
      }
    },
  }).start();
}

function subscribeCurrent() {
  if (!state.conv) return;
  rawSend(state.conv.seq.resumeFrame(state.conv.id));
}

function forCurrent(fn) {
  return function (f) { if (state.conv && f.conversation_id === state.conv.id) fn(f); };
}

var handlers = new Handlers({
  "hello": function (f) {
    state.connected = true;
    setStatus(S.connected);
    document.documentElement.setAttribute("data-kf-connected", "1");
    if (!state.conv && f.conversations && f.conversations.length) {
      var open = f.conversations[f.conversations.length - 1];
      state.conv = newConv(open.id, open.status);
    }
    if (state.conv) subscribeCurrent();
    else if (state.afterStart.length && !needsPrechat()) startConversation("");
  },
  "started": function (f) {
    state.starting = false;
    if (!state.conv || state.conv.id !== f.conversation_id) state.conv = newConv(f.conversation_id, f.status);
    toParent({ kefu: "active", value: true });
  },
  "subscribed": forCurrent(function (f) {
    state.conv.subscribed = true;
    applyStatus(f.status);
    var todo = state.afterStart; state.afterStart = [];
    todo.forEach(function (fn) { fn(); });
    flush();
  }),
  "message.created": forCurrent(function (f) { renderMessage(f.message); }),
  "ack": function (f) {
    state.outbox = state.outbox.filter(function (x) { return x.client_msg_id !== f.client_msg_id; });
    var row = state.pendingEls[f.client_msg_id];
    if (row) { row.classList.remove("kf-pending"); var st = row.querySelector(".kf-state"); if (st) st.textContent = ""; }
  },
  "typing": function (f) {
    if (f.sender_kind === "visitor") return;
    els.typing.textContent = S.typing;
    els.typing.hidden = !f.is_typing;
    clearTimeout(state.typingTimer);
    if (f.is_typing) state.typingTimer = setTimeout(function () { els.typing.hidden = true; }, 6000);
  },
  "conversation.queued": forCurrent(function (f) { state.conv.status = "queued"; showQueue(f.position, f.estimated_wait_seconds, f.agents_online, f.as_of); }),
  "conversation.assigned": forCurrent(function (f) { if (f.status) applyStatus(f.status); }),
  "conversation.updated": forCurrent(function (f) { if (f.status) applyStatus(f.status); }),
  "conversation.closed": forCurrent(function () { applyStatus("closed"); }),
  "conversation.rating_requested": forCurrent(function () { showRating(); }),
  // The gap is too large to replay: the conversation goes on from the server's seq.
  "resync": forCurrent(function (f) { state.conv.seq.last = f.last_seq; }),
  "error": function (f) { onError(f); },
});

var LEAVE_CODES = { off_hours: 1, queue_full: 1, intake_paused: 1, branch_disabled: 1 };

function onError(f) {
  if (f.leave_message || LEAVE_CODES[f.code]) {
    state.starting = false;
    state.afterStart = [];
    Object.keys(state.pendingEls).forEach(markFailed);
    showLeaveMessage(f.message, f.code);
    return;
  }
  if (f.retry && f.ref && state.pendingEls[f.ref]) {
    // The server is briefly unavailable: keep the message queued and send it again (same
    // client_msg_id, so it is written once however many times it is sent).
    setTimeout(flush, f.retry_after_ms || 1000);
    return;
  }
  if (f.ref && state.pendingEls[f.ref]) { markFailed(f.ref); }
  if (f.code === "conversation_closed" && state.conv) { applyStatus("closed"); return; }
  notice(f.message || S.error);
}

// ---------------------------------------------------------------- sending
function startConversation(subject) {
  if (state.starting || !state.connected) return;
  state.starting = true;
  rawSend({ type: "start", subject: subject || "", ref: "start" });
}

function needsPrechat() {
  return cfg.prechat_fields.length > 0 && !state.identity && !state.prechatDone;
}

function whenConversation(fn) {
  if (state.conv && state.conv.status !== "closed" && state.conv.subscribed) { fn(); return; }
  state.afterStart.push(fn);
  if (!state.conv || state.conv.status === "closed") {
    if (state.conv && state.conv.status === "closed") state.conv = null;
    if (needsPrechat()) {
      if (!els.panel.querySelector(".kf-prechat")) showPrechat(startConversation);
      return;
    }
    startConversation("");
  }
}

function sendText(body) {
  var id = uuid();
  pendingBubble(id, body, false);
  whenConversation(function () {
    state.outbox.push({ type: "send", conversation_id: state.conv.id, client_msg_id: id, body: body, ref: id });
    flush();
  });
}

function sendImage(file) {
  if (file.size > cfg.max_upload_bytes) { notice(S.error); return; }
  var id = uuid();
  pendingBubble(id, "", true);
  whenConversation(function () {
    var form = new FormData();
    form.append("file", file);
    api("POST", cfg.api_base + "im/conversations/" + state.conv.id + "/attachments/", form, { form: true }).then(function (att) {
      state.outbox.push({ type: "send", conversation_id: state.conv.id, client_msg_id: id, body: "", attachment_id: att.id, ref: id });
      flush();
    }).catch(function (e) { markFailed(id); notice(e.message); });
  });
}

els.composer.addEventListener("submit", function (ev) {
  ev.preventDefault();
  var body = els.input.value.trim();
  if (!body) return;
  els.input.value = "";
  hideSuggestions();
  sendText(body);
});
els.input.addEventListener("keydown", function (ev) {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); els.composer.requestSubmit ? els.composer.requestSubmit() : els.send.click(); }
});
els.file.addEventListener("change", function () {
  if (els.file.files && els.file.files[0]) sendImage(els.file.files[0]);
  els.file.value = "";
});
els.messages.addEventListener("click", function (ev) {
  var row = ev.target.closest && ev.target.closest(".kf-failed");
  if (!row) return;
  var id = row.getAttribute("data-client-id");
  var text = row.querySelector(".kf-text");
  if (!id || !text) return;
  row.parentNode.removeChild(row);
  delete state.pendingEls[id];
  sendText(text.textContent);
});
els.close.addEventListener("click", function () { toParent({ kefu: "close" }); });
if (!embedded) els.close.hidden = true;

// Typing: at most one frame every 3 s while typing, and a stop when the input empties.
var typingSentAt = 0;
var typingOn = false;
els.input.addEventListener("input", function () {
  var has = els.input.value.trim().length > 0;
  if (state.conv && state.conv.subscribed && state.connected) {
    if (has && Date.now() - typingSentAt > 3000) { typingSentAt = Date.now(); typingOn = true; rawSend({ type: "typing", conversation_id: state.conv.id, is_typing: true }); }
    else if (!has && typingOn) { typingOn = false; rawSend({ type: "typing", conversation_id: state.conv.id, is_typing: false }); }
  }
  scheduleSuggest();
});

// ---------------------------------------------------------------- keyword suggestions (F2)
var suggestTimer = null;
function hideSuggestions() { els.suggest.hidden = true; while (els.suggest.firstChild) els.suggest.removeChild(els.suggest.firstChild); }
function scheduleSuggest() {
  clearTimeout(suggestTimer);
  if (state.suggestOff) return;
  suggestTimer = setTimeout(fetchSuggestions, 300);
}
function fetchSuggestions() {
  var q = els.input.value.trim();
  if (q.length < 2 || !state.token) { hideSuggestions(); return; }
  api("GET", cfg.suggest_url + "?q=" + encodeURIComponent(q) + "&channel_key=" + encodeURIComponent(cfg.channel)).then(function (data) {
    if (els.input.value.trim() !== q) return;
    var items = Array.isArray(data) ? data : (data && (data.suggestions || data.results || data.items)) || [];
    hideSuggestions();
    if (!items.length) return;
    els.suggest.appendChild(el("li", "kf-suggest-title", S.suggestions));
    items.slice(0, 5).forEach(function (it) {
      var text = typeof it === "string" ? it : (it.question || it.title || it.text || "");
      if (!text) return;
      var li = el("li", "kf-suggest-item", text);
      li.tabIndex = 0;
      li.addEventListener("click", function () { els.input.value = text; hideSuggestions(); els.input.focus(); });
      els.suggest.appendChild(li);
    });
    els.suggest.hidden = false;
  }).catch(function (e) { if (e.status === 404 || e.status === 405) state.suggestOff = true; });
}

// ---------------------------------------------------------------- boot
function startSession() {
  var body = { channel_key: cfg.channel };
  var vid = storageGet(storeKey);
  if (vid) body.visitor_id = vid;
  if (state.identity) body.identity = state.identity;
  state.token = null;
  return api("POST", cfg.session_url, body).then(function (s) {
    state.token = s.token;
    state.visitorId = s.visitor_id;
    storageSet(storeKey, s.visitor_id);
    // The pages this browser viewed on the site (the loader's visitor context) are this customer's.
    if (state.visitKey) api("POST", "/api/v1/visitors/link/", { visitor: state.visitKey }).catch(function () {});
    if (!state.conv && s.conversations && s.conversations.length) {
      var open = s.conversations[s.conversations.length - 1];
      state.conv = newConv(open.id, open.status);
      toParent({ kefu: "active", value: true });
    }
    return s;
  });
}

/** The visitor answered an agent's (or a rule's) invitation: the server starts the conversation,
 * with the invitation as its first message, and this chat follows it. */
function acceptInvitation() {
  var id = state.invitation;
  if (!id || !state.visitKey) return Promise.resolve();
  state.invitation = null;
  return api("POST", "/api/v1/visitors/invitations/" + Number(id) + "/accept/", { visitor: state.visitKey })
    .then(function (r) {
      state.conv = newConv(r.conversation.id, r.conversation.status);
      toParent({ kefu: "active", value: true });
    })
    .catch(function (e) { notice(e.message || S.error); });
}

function boot() {
  if (cfg.greeting) {
    var g = el("div", "kf-row kf-theirs kf-greeting");
    var b = el("div", "kf-bubble");
    b.appendChild(el("div", "kf-text", cfg.greeting));
    g.appendChild(b);
    els.messages.appendChild(g);
  }
  startSession().then(acceptInvitation).then(function () {
    if (!state.conv && !cfg.working) showLeaveMessage(cfg.offline_message, "off_hours");
    connect();
  }).catch(function (e) {
    setStatus(e.status === 403 ? S.refused : S.error);
    banner(e.message, "closed");
    if (e.status !== 403 && e.status !== 404) setTimeout(boot, 5000);
  });
}

// The composer is disabled in the HTML until this script listens to it.
els.input.disabled = false;
els.send.disabled = false;

window.addEventListener("message", function (ev) {
  if (ev.source !== window.parent) return;
  var d = ev.data || {};
  if (d.kefu === "init") {
    if (d.identity && d.identity.user_id) state.identity = d.identity;
    if (typeof d.visitor === "string") state.visitKey = d.visitor;
    if (typeof d.invitation === "number") state.invitation = d.invitation;
    if (!state.booted) { state.booted = true; boot(); }
  } else if (d.kefu === "invite" && typeof d.invitation === "number") {
    // The visitor answered an invitation while the chat was already loaded.
    state.visitKey = typeof d.visitor === "string" ? d.visitor : state.visitKey;
    state.invitation = d.invitation;
    if (state.token) acceptInvitation().then(function () { if (state.conv && state.connected) subscribeCurrent(); });
  } else if (d.kefu === "visible") {
    state.visible = !!d.value;
    if (state.visible) { state.unread = 0; toParent({ kefu: "unread", count: 0 }); setTimeout(function () { els.input.focus(); }, 50); }
  }
});

if (embedded) {
  toParent({ kefu: "ready" });
  // A page that never sends init (an old loader) still gets a working chat.
  setTimeout(function () { if (!state.booted) { state.booted = true; boot(); } }, 1500);
} else {
  state.booted = true;
  document.documentElement.classList.add("kf-standalone");
  boot();
}
