/* Agent workbench. Plain JS, no build step.
 *
 * Rules kept throughout: message content only ever reaches the page through textContent (never
 * innerHTML); every conversation keeps its own state keyed by seq, so switching conversations
 * never reloads and never loses a message; after a drop the socket reconnects and each open
 * conversation is caught up from its last seq through REST.
 */
(function () {
  "use strict";

  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (fmt, obj, named) {
    return fmt.replace(/%\((\w+)\)s/g, function (_, k) { return obj[k]; });
  };
  var _ = gettext;

  // --- endpoints (the IM layer and dispatch own them; docs/protocol.md) ---------------------
  var API = {
    me: "/api/v1/me/",
    status: "/api/v1/me/status/",
    maxChats: "/api/v1/me/max-chats/",
    messages: function (id) { return "/api/v1/im/conversations/" + id + "/messages/"; },
    read: function (id) { return "/api/v1/im/conversations/" + id + "/read/"; },
    upload: function (id) { return "/api/v1/im/conversations/" + id + "/attachments/"; },
    queue: "/api/v1/conversations/queue/?limit=200",
    mine: "/api/v1/conversations/mine/",
    accept: function (id) { return "/api/v1/conversations/" + id + "/accept/"; },
    close: function (id) { return "/api/v1/conversations/" + id + "/close/"; },
    tags: function (id) { return "/api/v1/conversations/" + id + "/tags/"; },
    inviteRating: function (id) { return "/api/v1/conversations/" + id + "/invite-rating/"; },
    transfer: function (id) { return "/api/v1/conversations/" + id + "/transfer/"; },
    transfers: "/api/v1/transfers/",
    transferAccept: function (id) { return "/api/v1/transfers/" + id + "/accept/"; },
    transferDecline: function (id) { return "/api/v1/transfers/" + id + "/decline/"; },
    customer: function (id) { return "/api/v1/workbench/conversations/" + id + "/customer/"; },
    assist: function (id) { return "/api/v1/kb/assist/" + id + "/"; },
    assistUsage: function (id) { return "/api/v1/kb/assist/" + id + "/usage/"; },
    captured: function (id) { return "/api/v1/kb/captured/" + id + "/"; },
    quickReplies: "/api/v1/workbench/quick-replies/",
    quickReply: function (id) { return "/api/v1/workbench/quick-replies/" + id + "/"; },
    quickReplyUse: function (id) { return "/api/v1/workbench/quick-replies/" + id + "/use/"; },
    ws: "/ws/agent/",
  };
  var PAGE = 30;

  var boot = JSON.parse(document.getElementById("wb-bootstrap").textContent);
  var $ = function (id) { return document.getElementById(id); };

  // --- tiny helpers -------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "class") node.className = attrs[k];
        else if (k === "dataset") Object.keys(attrs[k]).forEach(function (d) { node.dataset[d] = attrs[k][d]; });
        else node.setAttribute(k, attrs[k]);
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function api(method, url, body, isForm) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-CSRFToken": csrf(), "Accept": "application/json" } };
    if (body !== undefined) {
      if (isForm) opts.body = body;
      else { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 204) return {};
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var err = new Error((data && data.error && data.error.message) || (_("Request failed") + " (" + r.status + ")"));
          err.status = r.status; err.data = data; throw err;
        }
        return data;
      });
    });
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function fmtWait(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : m + ":" + ss;
  }
  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function safeUrl(url) {
    // Only same-origin paths or http(s) links ever reach src/href.
    if (typeof url !== "string") return "";
    if (url.charAt(0) === "/" && url.charAt(1) !== "/") return url;
    if (/^https?:\/\//i.test(url)) return url;
    return "";
  }
  var serverSkew = Date.parse(boot.server_time) - Date.now();
  function now() { return Date.now() + serverSkew; }

  // --- state ----------------------------------------------------------------------------------
  var state = {
    me: boot.me,
    convs: new Map(),     // id -> conversation record (see conv())
    queue: new Map(),     // id -> conversation dict
    transfers: new Map(), // transfer id -> {transfer, conversation}
    current: null,
    connected: false,
    replies: [],
  };
  window.wbState = state; // for tests and the console

  function conv(id, data) {
    id = Number(id);
    var c = state.convs.get(id);
    if (!c) {
      c = { id: id, data: {}, messages: new Map(), pending: new Map(), lastSeq: 0, minSeq: null,
            hasMore: true, loaded: false, unread: 0, readSeq: 0, peerReadSeq: 0, draft: "", typing: null, scroll: null };
      state.convs.set(id, c);
    }
    if (data) Object.assign(c.data, data);
    return c;
  }

  // --- alerts (F8) ----------------------------------------------------------------------------
  var prefs = { sound: true, desktop: true, title: true };
  try { Object.assign(prefs, JSON.parse(localStorage.getItem("wb.alerts") || "{}")); } catch (e) { /* defaults */ }
  ["sound", "desktop", "title"].forEach(function (k) {
    var box = $("wb-alert-" + k);
    box.checked = !!prefs[k];
    box.addEventListener("change", function () {
      prefs[k] = box.checked;
      localStorage.setItem("wb.alerts", JSON.stringify(prefs));
      if (k === "desktop" && box.checked && window.Notification && Notification.permission === "default") {
        Notification.requestPermission();
      }
      updateTitle();
    });
  });
  var audioCtx = null;
  function beep() {
    if (!prefs.sound) return;
    try {
      audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audioCtx.createOscillator(), gain = audioCtx.createGain();
      osc.type = "sine"; osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, audioCtx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, audioCtx.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audioCtx.currentTime + 0.25);
      osc.connect(gain); gain.connect(audioCtx.destination);
      osc.start(); osc.stop(audioCtx.currentTime + 0.3);
      window.wbBeeps = (window.wbBeeps || 0) + 1;
    } catch (e) { /* no audio device: the other alerts still work */ }
  }
  function notify(title, body, convId) {
    window.wbNotifications = window.wbNotifications || [];
    window.wbNotifications.push({ title: title, body: body, conversation_id: convId });
    if (!prefs.desktop || !document.hidden || !window.Notification || Notification.permission !== "granted") return;
    try {
      var n = new Notification(title, { body: body, tag: "wb-" + convId });
      n.onclick = function () { window.focus(); if (convId) select(convId); n.close(); };
    } catch (e) { /* some browsers only allow service-worker notifications */ }
  }
  function alertUser(title, body, convId) {
    beep();
    notify(title, body, convId);
  }
  var baseTitle = document.title, flashOn = false;
  function totalUnread() {
    var n = 0;
    state.convs.forEach(function (c) { if (isMine(c)) n += c.unread; });
    return n;
  }
  function updateTitle() {
    var n = totalUnread() + state.queue.size;
    if (!prefs.title || !n) { document.title = baseTitle; return; }
    var label = "(" + n + ") " + baseTitle;
    document.title = (document.hidden && flashOn) ? "【" + interpolate(_("%(n)s new"), { n: n }, true) + "】" : label;
  }
  setInterval(function () { flashOn = !flashOn; updateTitle(); }, 1000);

  // --- status and capacity (F6, F6b) ----------------------------------------------------------
  var statusSel = $("wb-status"), maxInput = $("wb-max-chats"), meError = $("wb-me-error");
  function showMeError(msg) { meError.textContent = msg || ""; meError.hidden = !msg; }
  statusSel.value = state.me.status === "offline" ? "invisible" : state.me.status;
  statusSel.addEventListener("change", function () {
    var wanted = statusSel.value;
    api("POST", API.status, { status: wanted }).then(function (u) {
      state.me.status = u.status || wanted; showMeError("");
      if (state.me.status === "online") refreshQueue();
    }).catch(function (e) { statusSel.value = state.me.status; showMeError(e.message); });
  });
  maxInput.addEventListener("change", function () {
    api("POST", API.maxChats, { max_chats: Number(maxInput.value) }).then(function (u) {
      state.me.max_chats = u.max_chats; showMeError("");
    }).catch(function (e) { maxInput.value = state.me.max_chats; showMeError(e.message); });
  });

  // --- left column: queue and my conversations (F7, F10, F13, F14) ---------------------------
  function isMine(c) {
    return c.data.assignee_id === state.me.id && c.data.status !== "closed";
  }
  function waitingSince(c) {
    // F10: how long the customer has been waiting for us (their last message unanswered).
    var v = c.data.last_visitor_message_at, a = c.data.last_agent_message_at;
    if (!v && !a) v = c.data.queued_at || c.data.assigned_at || c.data.created_at; // nobody answered yet
    if (!v) return null;
    if (a && Date.parse(a) >= Date.parse(v)) return null;
    return Date.parse(v);
  }
  function renderMine() {
    var list = $("wb-mine");
    var items = [];
    state.convs.forEach(function (c) { if (isMine(c)) items.push(c); });
    items.sort(function (x, y) {
      var wx = waitingSince(x), wy = waitingSince(y);
      if (wx !== null && wy !== null) return wx - wy;
      if (wx !== null) return -1;
      if (wy !== null) return 1;
      return (Date.parse(y.data.last_message_at || y.data.created_at || 0) || 0) - (Date.parse(x.data.last_message_at || x.data.created_at || 0) || 0);
    });
    var existing = new Map();
    Array.prototype.forEach.call(list.children, function (li) { existing.set(Number(li.dataset.id), li); });
    items.forEach(function (c, i) {
      var li = existing.get(c.id) || buildMineItem(c);
      existing.delete(c.id);
      fillMineItem(li, c);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
    existing.forEach(function (li) { li.remove(); });
    $("wb-mine-count").textContent = items.length;
    updateTitle();
  }
  function buildMineItem(c) {
    var li = el("li", { class: "wb-item", role: "option", tabindex: "-1", dataset: { id: c.id } });
    li.appendChild(el("span", { class: "wb-item-name" }));
    li.appendChild(el("span", { class: "wb-badge" }));
    li.appendChild(el("span", { class: "wb-wait" }));
    li.appendChild(el("span", { class: "wb-item-last" }));
    li.addEventListener("click", function () { select(c.id); });
    return li;
  }
  function fillMineItem(li, c) {
    li.querySelector(".wb-item-name").textContent = c.data.customer_name || ("#" + c.id);
    var badge = li.querySelector(".wb-badge");
    badge.textContent = c.unread > 99 ? "99+" : String(c.unread);
    badge.hidden = !c.unread;
    li.querySelector(".wb-item-last").textContent = c.data.last_message_preview || "";
    li.classList.toggle("active", state.current === c.id);
    li.classList.toggle("transfer-pending", c.data.status === "transfer_pending");
    li.setAttribute("aria-selected", state.current === c.id ? "true" : "false");
    var since = waitingSince(c);
    li.dataset.waitingSince = since === null ? "" : String(since);
  }
  function renderQueue() {
    var list = $("wb-queue");
    list.textContent = "";
    var items = Array.from(state.queue.values()).sort(function (a, b) {
      return (b.priority || 0) - (a.priority || 0) || Date.parse(a.queued_at || a.created_at) - Date.parse(b.queued_at || b.created_at);
    });
    items.forEach(function (q) {
      var li = el("li", { class: "wb-item wb-queue-item", dataset: { id: q.id, since: String(Date.parse(q.queued_at || q.created_at)) } });
      li.appendChild(el("span", { class: "wb-item-name" }, q.customer_name || ("#" + q.id)));
      li.appendChild(el("span", { class: "wb-wait" }));
      li.appendChild(el("span", { class: "wb-item-last" }, q.last_message_preview || q.channel_name || ""));
      var accept = el("button", { type: "button", class: "wb-accept" }, _("Accept"));
      accept.addEventListener("click", function (ev) { ev.stopPropagation(); acceptConv(q.id, accept); });
      li.appendChild(accept);
      list.appendChild(li);
    });
    $("wb-queue-count").textContent = items.length;
    tick();
    updateTitle();
  }
  function tick() {
    var t = now();
    Array.prototype.forEach.call(document.querySelectorAll("#wb-queue .wb-item"), function (li) {
      li.querySelector(".wb-wait").textContent = fmtWait((t - Number(li.dataset.since)) / 1000);
    });
    Array.prototype.forEach.call(document.querySelectorAll("#wb-mine .wb-item"), function (li) {
      var since = li.dataset.waitingSince;
      var w = li.querySelector(".wb-wait");
      w.textContent = since ? fmtWait((t - Number(since)) / 1000) : "";
      li.classList.toggle("waiting-long", !!since && t - Number(since) > 60000);
    });
  }
  setInterval(tick, 1000);

  function acceptConv(id, button) {
    if (button) button.disabled = true;
    api("POST", API.accept(id), {}).then(function (res) {
      var data = res.conversation || res;
      state.queue.delete(Number(id));
      conv(id, data);
      if (!conv(id).data.assignee_id) conv(id).data.assignee_id = state.me.id;
      renderQueue(); renderMine(); select(id);
    }).catch(function (e) {
      if (button) button.disabled = false;
      showMeError(e.message);
      if (e.status === 409 || e.status === 404) { state.queue.delete(Number(id)); renderQueue(); }
    });
  }
  function refreshQueue() {
    return api("GET", API.queue).then(function (res) {
      var rows = res.results || res;
      if (!Array.isArray(rows)) return;
      state.queue.clear();
      rows.forEach(function (q) { state.queue.set(q.id, q); });
      renderQueue();
    }).catch(function () { /* dispatch API not reachable: keep what we have */ });
  }
  function refreshMine() {
    return api("GET", API.mine).then(function (res) {
      var rows = res.results || res;
      if (!Array.isArray(rows)) return;
      var ids = new Set(rows.map(function (d) { return d.id; }));
      rows.forEach(function (d) {
        var c = conv(d.id), known = c.data.last_seq || 0;
        conv(d.id, d);
        // The database is the truth: a wake-up lost on the way is caught up by seq here.
        if (d.last_seq > c.lastSeq) {
          if (c.loaded || c.lastSeq) catchUp(c);
          else if (d.last_seq > known && known) {
            c.unread += d.last_seq - known;
            alertUser(interpolate(_("New message from %(name)s"), { name: d.customer_name || ("#" + d.id) }, true), d.last_message_preview || "", d.id);
          }
        }
      });
      // Anything the server no longer lists as mine has left my hands (closed or transferred).
      state.convs.forEach(function (c) { if (isMine(c) && !ids.has(c.id)) c.data.assignee_id = null; });
      renderMine();
    }).catch(function () { /* keep the bootstrap list */ });
  }

  // --- centre: the conversation ---------------------------------------------------------------
  var box = $("wb-messages");
  function msgNode(m) {
    var kind = m.sender_kind || "system";
    var cls = "wb-msg wb-msg-" + kind + (m.visibility === "staff" ? " wb-msg-staff" : "") + (m._pending ? " pending" : "") + (m._failed ? " failed" : "");
    if (m.content_type === "system" || m.content_type === "event" || kind === "system") cls = "wb-msg wb-msg-notice";
    var node = el("div", { class: cls, dataset: { seq: m.seq || "", cid: m.client_msg_id || "" } });
    if (!/wb-msg-notice/.test(cls)) {
      var meta = el("div", { class: "wb-meta" });
      meta.appendChild(el("span", { class: "wb-sender" }, m.sender_name || senderLabel(kind)));
      meta.appendChild(el("time", { datetime: m.created_at || "" }, fmtTime(m.created_at)));
      node.appendChild(meta);
    }
    var body = el("div", { class: "wb-body" });
    var p = (m.payload && m.payload.attachment) || m.payload || {};
    if (m.content_type === "image" && safeUrl(p.url)) {
      var a = el("a", { href: safeUrl(p.url), target: "_blank", rel: "noopener" });
      var img = el("img", { src: safeUrl(p.thumbnail_url || p.url), alt: p.name || _("Image"), loading: "lazy" });
      a.appendChild(img); body.appendChild(a);
      if (m.body) body.appendChild(el("div", null, m.body));
    } else if (m.content_type === "file" && safeUrl(p.url)) {
      var f = el("a", { href: safeUrl(p.url), target: "_blank", rel: "noopener", download: p.name || "" }, "📎 " + (p.name || m.body || _("File")));
      body.appendChild(f);
      if (p.size) body.appendChild(el("span", { class: "muted" }, " " + Math.ceil(p.size / 1024) + " KB"));
    } else {
      body.textContent = m.body || "";
    }
    node.appendChild(body);
    if (m._failed) {
      var retry = el("button", { type: "button", class: "link" }, _("Failed. Retry"));
      retry.addEventListener("click", function () { resend(m); });
      node.appendChild(retry);
    }
    return node;
  }
  function senderLabel(kind) {
    return { visitor: _("Customer"), agent: _("Agent"), bot: _("Bot"), system: _("System"), supervisor: _("Supervisor") }[kind] || kind;
  }
  function readMark(c) {
    // Read state: the customer has read up to peerReadSeq.
    Array.prototype.forEach.call(box.querySelectorAll(".wb-msg-agent"), function (n) {
      var seq = Number(n.dataset.seq);
      n.classList.toggle("read", !!seq && seq <= c.peerReadSeq);
    });
  }
  function renderConversation(c, keepScroll) {
    var prevHeight = box.scrollHeight, prevTop = box.scrollTop;
    box.textContent = "";
    if (c.hasMore && c.loaded) {
      var more = el("button", { type: "button", class: "wb-more link" }, _("Load earlier messages"));
      more.addEventListener("click", function () { loadOlder(c); });
      box.appendChild(more);
    }
    var seqs = Array.from(c.messages.keys()).sort(function (a, b) { return a - b; });
    seqs.forEach(function (s) { box.appendChild(msgNode(c.messages.get(s))); });
    c.pending.forEach(function (m) { box.appendChild(msgNode(m)); });
    readMark(c);
    if (keepScroll === "top") box.scrollTop = box.scrollHeight - prevHeight + prevTop;
    else if (keepScroll === "restore" && c.scroll !== null) box.scrollTop = c.scroll;
    else box.scrollTop = box.scrollHeight;
  }
  function appendMessage(c, m) {
    if (m.seq) {
      if (c.messages.has(m.seq)) return false;
      c.messages.set(m.seq, m);
      if (m.client_msg_id) c.pending.delete(m.client_msg_id);
      if (m.seq > c.lastSeq) c.lastSeq = m.seq;
      if (c.minSeq === null || m.seq < c.minSeq) c.minSeq = m.seq;
      if (c.data.last_seq === undefined || m.seq > c.data.last_seq) c.data.last_seq = m.seq;
    }
    return true;
  }
  function onMessage(m) {
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
        alertUser(interpolate(_("New message from %(name)s"), { name: c.data.customer_name || ("#" + c.id) }, true),
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
      if (wasPending) {
        var old = box.querySelector('.wb-msg[data-cid="' + cssEscape(m.client_msg_id) + '"]');
        if (old) old.replaceWith(msgNode(m)); else box.appendChild(msgNode(m));
      } else {
        box.appendChild(msgNode(m));
      }
      readMark(c);
      if (atBottom || m.sender_kind === "agent") box.scrollTop = box.scrollHeight;
    }
    renderMine();
  }
  var assistTimer = null;
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&"); }

  function loadInitial(c) {
    return api("GET", API.messages(c.id) + "?limit=" + PAGE).then(function (res) {
      var rows = res.messages || [];
      rows.forEach(function (m) { appendMessage(c, m); });
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
      var rows = res.messages || [];
      rows.forEach(function (m) { appendMessage(c, m); });
      c.hasMore = !!res.has_more_before;
      if (state.current === c.id) renderConversation(c, "top");
    }).finally(function () { loadingOlder = false; });
  }
  box.addEventListener("scroll", function () {
    var c = state.current && conv(state.current);
    if (!c) return;
    c.scroll = box.scrollTop;
    if (box.scrollTop < 40) loadOlder(c);
  });
  var catching = new Set();
  function catchUp(c) {
    // Everything after our last seq, from the database (after a reconnect, a resync, or when
    // the periodic check finds the conversation further ahead than this page).
    if ((!c.loaded && !c.lastSeq) || catching.has(c.id)) return Promise.resolve();
    catching.add(c.id);
    return api("GET", API.messages(c.id) + "?after_seq=" + c.lastSeq + "&limit=200").then(function (res) {
      var rows = res.messages || [];
      rows.forEach(function (m) { onMessage(m); });
      catching.delete(c.id);
      if (res.has_more_after && rows.length) return catchUp(c);
    }).catch(function () { catching.delete(c.id); /* retried on the next check */ });
  }
  function markRead(c) {
    if (!c.lastSeq || c.readSeq >= c.lastSeq) { c.unread = 0; return; }
    c.readSeq = c.lastSeq; c.unread = 0;
    if (!sendFrame({ type: "read", conversation_id: c.id, seq: c.lastSeq })) {
      api("POST", API.read(c.id), { seq: c.lastSeq }).catch(function () { /* best effort */ });
    }
    renderMine();
  }

  function select(id) {
    id = Number(id);
    var prev = state.current && state.convs.get(state.current);
    if (prev) { prev.draft = input.value; prev.scroll = box.scrollTop; }
    state.current = id;
    var c = conv(id);
    $("wb-conv-title").textContent = c.data.customer_name || ("#" + id);
    $("wb-conv-sub").textContent = [c.data.channel_name || boot.channels[c.data.channel_id] || "", statusLabel(c.data.status)].filter(Boolean).join(" · ");
    $("wb-actions").hidden = !isMine(c);
    $("wb-composer").hidden = !isMine(c);
    input.value = c.draft || "";
    renderTyping(c);
    if (!c.loaded) {
      box.textContent = ""; box.appendChild(el("p", { class: "muted" }, _("Loading…")));
      loadInitial(c).then(function () { if (!c.subscribed) subscribe(c); markRead(c); });
    }
    else { renderConversation(c, "restore"); markRead(c); }
    renderMine();
    loadCustomer(c);
    loadAssist(c);
    if (history.replaceState) history.replaceState(null, "", "#c" + id);
    input.focus();
  }
  function statusLabel(s) {
    return { active: _("In service"), transfer_pending: _("Transfer pending"), closed: _("Closed"), queued: _("Waiting in queue") }[s] || "";
  }

  // --- typing indicator -------------------------------------------------------------------
  function renderTyping(c) {
    var t = c.typing && c.typing.until > Date.now() ? c.typing : null;
    $("wb-typing").textContent = t ? interpolate(_("%(name)s is typing…"), { name: t.name || _("Customer") }, true) : "";
  }
  setInterval(function () { if (state.current) renderTyping(conv(state.current)); }, 1000);

  // --- composer -------------------------------------------------------------------------------
  var input = $("wb-input"), sendError = $("wb-send-error");
  var typingSentAt = 0;
  function sendText(text) {
    var c = state.current && conv(state.current);
    if (!c || !text.trim()) return;
    var m = { client_msg_id: uuid(), conversation_id: c.id, content_type: "text", body: text, sender_kind: "agent",
              sender_name: state.me.name, created_at: new Date().toISOString(), _pending: true };
    c.pending.set(m.client_msg_id, m);
    box.appendChild(msgNode(m));
    box.scrollTop = box.scrollHeight;
    deliver(m);
    if (assistUsed && assistUsed.conversation === c.id && text.indexOf(assistUsed.text.slice(0, 20)) >= 0) {
      api("POST", API.assistUsage(c.id), { entry_id: assistUsed.entry_id, action: text.trim() === assistUsed.text.trim() ? "sent" : "edited" })
        .catch(function () { /* statistics only */ });
      assistUsed = null;
    }
  }
  function deliver(m) {
    sendError.textContent = "";
    var frame = { type: "send", ref: m.client_msg_id, conversation_id: m.conversation_id, client_msg_id: m.client_msg_id, body: m.body };
    if (m.attachment_id) frame.attachment_id = m.attachment_id;
    if (sendFrame(frame)) {
      // The ack (or the echo) confirms it; if neither comes the REST retry below still lands once.
      setTimeout(function () { var c = conv(m.conversation_id); if (c.pending.has(m.client_msg_id)) restSend(m); }, 5000);
    } else {
      restSend(m);
    }
  }
  function restSend(m) {
    var c = conv(m.conversation_id);
    var body = { client_msg_id: m.client_msg_id, body: m.body };
    if (m.attachment_id) body.attachment_id = m.attachment_id;
    return api("POST", API.messages(c.id), body).then(function (res) {
      onMessage(res.message || res);
    }).catch(function (e) {
      m._failed = true; m._pending = false;
      sendError.textContent = e.message;
      if (state.current === c.id) renderConversation(c);
    });
  }
  function resend(m) { m._failed = false; m._pending = true; deliver(m); if (state.current === m.conversation_id) renderConversation(conv(m.conversation_id)); }
  $("wb-composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    sendText(text);
  });
  input.addEventListener("keydown", function (ev) {
    if (qrPopupOpen() && qrKey(ev)) return;
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey && !ev.ctrlKey) {
      ev.preventDefault();
      $("wb-composer").requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    updateQrPopup();
    if (state.current && Date.now() - typingSentAt > 3000) {
      typingSentAt = Date.now();
      sendFrame({ type: "typing", conversation_id: state.current, is_typing: true });
    }
  });
  function uploadFile(file) {
    var c = state.current && conv(state.current);
    if (!c || !file) return;
    var form = new FormData();
    form.append("file", file);
    form.append("client_msg_id", uuid());
    sendError.textContent = _("Uploading…");
    api("POST", API.upload(c.id), form, true).then(function (res) {
      sendError.textContent = "";
      if (res.message) { onMessage(res.message); return; }
      var att = res.attachment || res;
      var m = { client_msg_id: uuid(), conversation_id: c.id, content_type: (att.mime_type || "").indexOf("image/") === 0 ? "image" : "file",
                body: "", payload: { attachment: att }, attachment_id: att.id, sender_kind: "agent", sender_name: state.me.name,
                created_at: new Date().toISOString(), _pending: true };
      c.pending.set(m.client_msg_id, m);
      if (state.current === c.id) { box.appendChild(msgNode(m)); box.scrollTop = box.scrollHeight; }
      deliver(m);
    }).catch(function (e) { sendError.textContent = e.message; });
  }
  $("wb-file").addEventListener("change", function (ev) { uploadFile(ev.target.files[0]); ev.target.value = ""; });
  input.addEventListener("paste", function (ev) {
    var items = (ev.clipboardData && ev.clipboardData.files) || [];
    if (items.length) { ev.preventDefault(); uploadFile(items[0]); }
  });
  ["dragover", "drop"].forEach(function (name) {
    $("wb-composer").addEventListener(name, function (ev) {
      ev.preventDefault();
      if (name === "drop" && ev.dataTransfer.files.length) uploadFile(ev.dataTransfer.files[0]);
    });
  });

  // --- quick replies (F12) -------------------------------------------------------------------
  var popup = $("wb-qr-popup"), qrIndex = 0, qrMatches = [];
  function loadReplies() {
    return api("GET", API.quickReplies).then(function (res) { state.replies = res.results || []; renderReplyList(); });
  }
  function matchReplies(q) {
    q = q.toLowerCase();
    return state.replies.filter(function (r) {
      return !q || (r.shortcut && r.shortcut.toLowerCase().indexOf(q) === 0) || r.title.toLowerCase().indexOf(q) >= 0 || r.content.toLowerCase().indexOf(q) >= 0;
    }).slice(0, 8);
  }
  function qrPopupOpen() { return !popup.hidden; }
  function updateQrPopup() {
    var v = input.value;
    if (v.charAt(0) !== "/" || v.indexOf("\n") >= 0) { popup.hidden = true; return; }
    qrMatches = matchReplies(v.slice(1));
    qrIndex = 0;
    popup.textContent = "";
    if (!qrMatches.length) { popup.appendChild(el("div", { class: "muted" }, _("No quick reply matches."))); }
    qrMatches.forEach(function (r, i) {
      var opt = el("div", { class: "wb-qr-opt", role: "option", dataset: { i: i } });
      opt.appendChild(el("strong", null, r.title));
      if (r.shortcut) opt.appendChild(el("span", { class: "muted" }, " /" + r.shortcut));
      opt.appendChild(el("div", { class: "wb-qr-content" }, r.content));
      opt.addEventListener("mousedown", function (ev) { ev.preventDefault(); pickReply(r); });
      popup.appendChild(opt);
    });
    highlightQr();
    popup.hidden = false;
  }
  function highlightQr() {
    Array.prototype.forEach.call(popup.querySelectorAll(".wb-qr-opt"), function (o, i) {
      o.classList.toggle("active", i === qrIndex); o.setAttribute("aria-selected", i === qrIndex ? "true" : "false");
    });
  }
  function qrKey(ev) {
    if (ev.key === "ArrowDown") { qrIndex = Math.min(qrIndex + 1, qrMatches.length - 1); highlightQr(); ev.preventDefault(); return true; }
    if (ev.key === "ArrowUp") { qrIndex = Math.max(qrIndex - 1, 0); highlightQr(); ev.preventDefault(); return true; }
    if ((ev.key === "Enter" || ev.key === "Tab") && qrMatches.length) { ev.preventDefault(); pickReply(qrMatches[qrIndex]); return true; }
    if (ev.key === "Escape") { popup.hidden = true; ev.preventDefault(); return true; }
    return false;
  }
  function pickReply(r) {
    input.value = r.content;
    popup.hidden = true;
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    api("POST", API.quickReplyUse(r.id), {}).catch(function () { /* counter only */ });
  }
  function insertText(text) {
    var start = input.selectionStart || input.value.length, end = input.selectionEnd || input.value.length;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.focus();
    input.setSelectionRange(start + text.length, start + text.length);
  }
  function renderReplyList() {
    var list = $("wb-qr-list"), q = $("wb-qr-search").value.trim().toLowerCase();
    list.textContent = "";
    state.replies.filter(function (r) {
      return !q || r.title.toLowerCase().indexOf(q) >= 0 || r.content.toLowerCase().indexOf(q) >= 0 || (r.shortcut || "").toLowerCase().indexOf(q) === 0;
    }).forEach(function (r) {
      var li = el("li", { class: "wb-qr-item", dataset: { id: r.id } });
      var head = el("div", { class: "wb-qr-head" });
      head.appendChild(el("strong", null, r.title));
      head.appendChild(el("span", { class: "wb-scope" }, r.scope === "team" ? _("Team") : _("Mine")));
      if (r.shortcut) head.appendChild(el("span", { class: "muted" }, "/" + r.shortcut));
      li.appendChild(head);
      var content = el("div", { class: "wb-qr-content" }, r.content);
      li.appendChild(content);
      var bar = el("div", { class: "wb-qr-bar" });
      var use = el("button", { type: "button" }, _("Insert"));
      use.addEventListener("click", function () { insertText(r.content); api("POST", API.quickReplyUse(r.id), {}).catch(function () {}); });
      bar.appendChild(use);
      if (r.editable) {
        var edit = el("button", { type: "button" }, _("Edit"));
        edit.addEventListener("click", function () { editReply(li, r); });
        var del = el("button", { type: "button", class: "danger" }, _("Delete"));
        del.addEventListener("click", function () {
          if (!confirm(_("Delete this quick reply?"))) return;
          api("DELETE", API.quickReply(r.id)).then(loadReplies).catch(function (e) { alert(e.message); });
        });
        bar.appendChild(edit); bar.appendChild(del);
      }
      li.appendChild(bar);
      list.appendChild(li);
    });
  }
  function editReply(li, r) {
    // Edited in place: the item turns into a small form.
    li.textContent = "";
    var form = el("form", { class: "wb-qr-form" });
    var title = el("input", { name: "title", maxlength: "100" }); title.value = r.title;
    var shortcut = el("input", { name: "shortcut", maxlength: "30" }); shortcut.value = r.shortcut || "";
    var content = el("textarea", { name: "content", rows: "3", maxlength: "2000" }); content.value = r.content;
    var err = el("span", { class: "wb-error-inline", role: "alert" });
    form.appendChild(title); form.appendChild(shortcut); form.appendChild(content);
    form.appendChild(el("button", { type: "submit" }, _("Save")));
    var cancel = el("button", { type: "button" }, _("Cancel"));
    cancel.addEventListener("click", renderReplyList);
    form.appendChild(cancel); form.appendChild(err);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("PATCH", API.quickReply(r.id), { title: title.value, shortcut: shortcut.value, content: content.value })
        .then(loadReplies).catch(function (e) { err.textContent = e.message; });
    });
    li.appendChild(form);
    content.focus();
  }
  $("wb-qr-search").addEventListener("input", renderReplyList);
  $("wb-qr-new").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, err = f.querySelector(".wb-error-inline");
    var body = { title: f.title.value, shortcut: f.shortcut.value, content: f.content.value, scope: f.team && f.team.checked ? "team" : "personal" };
    api("POST", API.quickReplies, body).then(function () { f.reset(); err.textContent = ""; return loadReplies(); })
      .catch(function (e) { err.textContent = e.message; });
  });

  // --- right column: customer panel (F11) and assist -----------------------------------------
  function panelValue(label, value) {
    // One click puts the value in the composer.
    var row = el("div", { class: "wb-kv" });
    row.appendChild(el("span", { class: "wb-k" }, label));
    var v = el("button", { type: "button", class: "wb-v link", title: _("Insert into the message") }, value);
    v.addEventListener("click", function () { insertText(String(value)); });
    row.appendChild(v);
    return row;
  }
  function loadCustomer(c) {
    var panel = $("wb-customer");
    panel.textContent = "";
    panel.appendChild(el("p", { class: "muted" }, _("Loading…")));
    api("GET", API.customer(c.id)).then(function (d) {
      if (state.current !== c.id) return;
      panel.textContent = "";
      panel.classList.remove("muted");
      var cu = d.customer;
      panel.appendChild(el("h3", null, cu.name + (cu.is_vip ? " ★VIP" : "")));
      panel.appendChild(panelValue(_("Channel"), d.channel.name));
      if (cu.phone) panel.appendChild(panelValue(_("Phone"), cu.phone));
      if (cu.email) panel.appendChild(panelValue(_("Email"), cu.email));
      d.phones_in_conversation.forEach(function (p) { if (p !== cu.phone) panel.appendChild(panelValue(_("Phone (from chat)"), p)); });
      d.waybills.forEach(function (w) { panel.appendChild(panelValue(_("Waybill"), w)); });
      Object.keys(d.captured).forEach(function (k) {
        var v = d.captured[k];
        (Array.isArray(v) ? v : [v]).forEach(function (x) { panel.appendChild(panelValue(k, typeof x === "object" ? JSON.stringify(x) : x)); });
      });
      Object.keys(d.attributes).forEach(function (k) { panel.appendChild(panelValue(k, typeof d.attributes[k] === "object" ? JSON.stringify(d.attributes[k]) : d.attributes[k])); });
      var capturedBox = el("div", { class: "wb-captured" });
      panel.appendChild(capturedBox);
      var shown = new Set(d.waybills.concat(d.phones_in_conversation, [cu.phone]));
      api("GET", API.captured(c.id)).then(function (cap) {
        if (state.current !== c.id) return;
        (cap.slots || []).forEach(function (sl) {
          var v = typeof sl.value === "object" ? JSON.stringify(sl.value) : String(sl.value);
          if (shown.has(v)) return;
          shown.add(v);
          capturedBox.appendChild(panelValue(slotLabel(sl.slot), v));
        });
      }).catch(function () { /* knowledge layer not available: the rest of the panel stands */ });
      panel.appendChild(el("h4", null, _("Past conversations")));
      if (!d.past_conversations.length) panel.appendChild(el("p", { class: "muted" }, _("None")));
      var ul = el("ul", { class: "wb-past" });
      d.past_conversations.forEach(function (p) {
        var li = el("li");
        var a = el("a", { href: "/workbench/history/" + Number(p.id) + "/", target: "_blank" }, new Date(p.created_at).toLocaleString());
        li.appendChild(a);
        li.appendChild(el("span", { class: "muted" }, " " + (p.agent || "") + (p.score ? " " + p.score + "★" : "")));
        if (p.preview) li.appendChild(el("div", { class: "wb-item-last" }, p.preview));
        ul.appendChild(li);
      });
      panel.appendChild(ul);
    }).catch(function (e) { panel.textContent = e.message; });
  }
  function slotLabel(slot) {
    return { waybill: _("Waybill"), phone: _("Phone"), address: _("Address"), name: _("Name"), order: _("Order") }[slot] || slot;
  }
  var assistUsed = null; // {conversation, entry_id, text}: counted when it is sent
  function loadAssist(c) {
    var panel = $("wb-assist");
    panel.textContent = "";
    api("GET", API.assist(c.id)).then(function (d) {
      if (state.current !== c.id) return;
      var items = d.suggestions || d.results || [];
      if (!items.length) { panel.appendChild(el("p", { class: "muted" }, _("No suggestions."))); return; }
      items.forEach(function (s) {
        var text = s.answer || s.content || s.text || "";
        var row = el("div", { class: "wb-assist-item" });
        row.appendChild(el("strong", null, s.question || s.title || ""));
        row.appendChild(el("div", { class: "wb-qr-content" }, text));
        var ins = el("button", { type: "button" }, _("Insert"));
        ins.addEventListener("click", function () {
          insertText(text);
          if (s.entry_id) assistUsed = { conversation: c.id, entry_id: s.entry_id, text: text };
        });
        row.appendChild(ins);
        panel.appendChild(row);
      });
    }).catch(function () { panel.appendChild(el("p", { class: "muted" }, _("Assist is not available."))); });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".wb-tabs [role=tab]"), function (tab) {
    tab.addEventListener("click", function () {
      Array.prototype.forEach.call(document.querySelectorAll(".wb-tabs [role=tab]"), function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        $("wb-tab-" + t.dataset.tab).hidden = !on;
      });
    });
  });

  // --- actions (F9) ----------------------------------------------------------------------------
  function dialogError(dlg, msg) { dlg.querySelector(".wb-error-inline").textContent = msg || ""; }
  function checked(form) {
    return Array.prototype.filter.call(form.querySelectorAll("input[name=tag]"), function (i) { return i.checked; })
      .map(function (i) { return Number(i.value); });
  }
  $("wb-act-close").addEventListener("click", function () { openDialog("wb-dlg-close"); });
  $("wb-act-tag").addEventListener("click", function () { openDialog("wb-dlg-tag"); });
  $("wb-act-transfer").addEventListener("click", function () { openDialog("wb-dlg-transfer"); });
  $("wb-act-rating").addEventListener("click", function () {
    var id = state.current;
    api("POST", API.inviteRating(id), {}).then(function () { flash(_("Rating invitation sent.")); }).catch(function (e) { flash(e.message, true); });
  });
  function openDialog(id) {
    var dlg = $(id);
    dialogError(dlg, "");
    dlg.querySelector("form").reset();
    dlg.showModal();
  }
  $("wb-close-form").addEventListener("submit", function (ev) {
    var dlg = $("wb-dlg-close");
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    var id = state.current, form = ev.target;
    // The invitation goes out while the customer is still in the conversation, then it closes.
    var invite = form.invite_rating.checked ? api("POST", API.inviteRating(id), {}).catch(function () { return null; }) : Promise.resolve();
    invite.then(function () { return api("POST", API.close(id), { tags: checked(form), reason: "resolved" }); }).then(function () {
      dlg.close(); closedLocally(id);
    }).catch(function (e) { dialogError(dlg, e.message); });
  });
  $("wb-tag-form").addEventListener("submit", function (ev) {
    var dlg = $("wb-dlg-tag");
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    api("POST", API.tags(state.current), { tags: checked(ev.target) }).then(function () { dlg.close(); flash(_("Tags saved.")); })
      .catch(function (e) { dialogError(dlg, e.message); });
  });
  $("wb-transfer-form").addEventListener("submit", function (ev) {
    var dlg = $("wb-dlg-transfer");
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    var f = ev.target, body = { note: f.note.value };
    if (f.agent.value) body.to_agent = Number(f.agent.value);
    else if (f.skill_group.value) body.to_skill_group = Number(f.skill_group.value);
    else { dialogError(dlg, _("Choose an agent or a skill group.")); return; }
    var id = state.current;
    api("POST", API.transfer(id), body).then(function (res) {
      dlg.close();
      conv(id, { status: "transfer_pending" });
      renderMine();
      flash(_("Transfer requested."));
    }).catch(function (e) { dialogError(dlg, e.message); });
  });
  function closedLocally(id) {
    var c = conv(id);
    c.data.status = "closed";
    if (state.current === id) {
      $("wb-actions").hidden = true; $("wb-composer").hidden = true;
      $("wb-conv-sub").textContent = statusLabel("closed");
    }
    renderMine();
  }
  function flash(msg, isError) {
    var b = el("div", { class: "wb-toast" + (isError ? " error" : ""), role: "status" }, msg);
    document.body.appendChild(b);
    setTimeout(function () { b.remove(); }, 3000);
  }

  // --- transfer requests addressed to me -----------------------------------------------------
  function renderTransfers() {
    var list = $("wb-transfers");
    list.textContent = "";
    state.transfers.forEach(function (t, tid) {
      var cd = t.conversation || {};
      var li = el("li", { class: "wb-item wb-transfer", dataset: { id: tid } });
      li.appendChild(el("span", { class: "wb-item-name" }, cd.customer_name || ("#" + cd.id)));
      li.appendChild(el("span", { class: "muted" }, interpolate(_("from %(name)s"), { name: t.transfer.from_agent_name || agentName(t.transfer.from_agent_id) }, true)));
      if (t.transfer.note) li.appendChild(el("span", { class: "wb-item-last" }, t.transfer.note));
      var ok = el("button", { type: "button", class: "wb-accept" }, _("Accept"));
      var no = el("button", { type: "button" }, _("Decline"));
      ok.addEventListener("click", function () {
        ok.disabled = true;
        api("POST", API.transferAccept(tid), {}).then(function (res) {
          state.transfers.delete(tid); renderTransfers();
          var d = res.conversation || cd;
          conv(d.id, d); conv(d.id).data.assignee_id = state.me.id; conv(d.id).data.status = "active";
          renderMine(); select(d.id);
        }).catch(function (e) { ok.disabled = false; flash(e.message, true); });
      });
      no.addEventListener("click", function () {
        api("POST", API.transferDecline(tid), {}).then(function () { state.transfers.delete(tid); renderTransfers(); })
          .catch(function (e) { flash(e.message, true); });
      });
      li.appendChild(ok); li.appendChild(no);
      list.appendChild(li);
    });
    $("wb-transfers-box").hidden = !state.transfers.size;
  }
  function agentName(id) {
    var a = boot.agents.find(function (x) { return x.id === id; });
    return a ? a.name : (id ? "#" + id : "");
  }
  function refreshTransfers() {
    return api("GET", API.transfers).then(function (res) {
      var rows = res.results || res;
      if (!Array.isArray(rows)) return;
      state.transfers.clear();
      rows.forEach(function (t) {
        if (t.status && t.status !== "pending") return;
        var known = state.convs.get(t.conversation_id) || state.queue.get(t.conversation_id);
        state.transfers.set(t.id, { transfer: t, conversation: t.conversation || (known && (known.data || known)) || { id: t.conversation_id } });
      });
      renderTransfers();
    }).catch(function () { /* not available */ });
  }

  // --- the socket --------------------------------------------------------------------------
  var ws = null, retry = 0, pingTimer = null, everConnected = false;
  function banner(text) { var b = $("wb-banner"); b.textContent = text || ""; b.hidden = !text; }
  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }
  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + API.ws;
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws.onopen = function () {
      var wasReconnect = everConnected;
      everConnected = true; retry = 0; state.connected = true;
      banner("");
      state.convs.forEach(function (c) { c.subscribed = false; });
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { sendFrame({ type: "ping" }); }, 25000);
      if (wasReconnect) {
        refreshQueue(); refreshMine(); refreshTransfers();
      }
    };
    ws.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      handleFrame(frame);
    };
    ws.onclose = function () {
      state.connected = false;
      clearInterval(pingTimer);
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows */ };
  }
  function scheduleReconnect() {
    var delay = Math.min(30000, 500 * Math.pow(2, retry++)) * (0.75 + Math.random() * 0.5);
    banner(interpolate(_("Connection lost. Reconnecting in %(s)s s…"), { s: Math.ceil(delay / 1000) }, true));
    setTimeout(connect, delay);
  }
  window.addEventListener("online", function () { if (!state.connected) { retry = 0; connect(); } });

  function handleFrame(f) {
    var t = f.type, cid = f.conversation_id;
    if (t === "event" && f.event) { handleFrame(f.event); return; }
    if (t === "message.created" || t === "message") { onMessage(f.message); return; }
    if (t === "hello") { onHello(f); return; }
    if (t === "ack") { onAck(f); return; }
    if (t === "subscribed") { conv(cid).subscribed = true; return; }
    if (t === "resync") { catchUp(conv(cid)); return; }
    if (t === "pong") return;
    if (t === "typing") {
      if (f.sender_kind === "visitor" || f.sender_kind === "customer") {
        conv(cid).typing = f.is_typing ? { name: f.sender_name, until: Date.now() + 6000 } : null;
        if (state.current === Number(cid)) renderTyping(conv(cid));
      }
      return;
    }
    if (t === "read") {
      if (f.reader_kind === "visitor") { var c = conv(cid); c.peerReadSeq = Math.max(c.peerReadSeq, f.seq); if (state.current === c.id) readMark(c); }
      return;
    }
    if (t === "conversation.created" || t === "conversation.updated" || t === "conversation.assigned") {
      var d = f.conversation;
      if (!d) return;
      if (d.status === "queued") { state.queue.set(d.id, Object.assign(state.queue.get(d.id) || {}, d)); renderQueue();
        if (t === "conversation.created") alertUser(_("New conversation waiting"), d.customer_name || "", d.id);
        return; }
      state.queue.delete(d.id);
      var had = state.convs.has(d.id) && isMine(conv(d.id));
      conv(d.id, d);
      if (t === "conversation.assigned" && f.agent_id !== undefined) conv(d.id).data.assignee_id = f.agent_id;
      if (!had && isMine(conv(d.id))) {
        alertUser(_("New conversation"), conv(d.id).data.customer_name || "", d.id);
        noticeLocal(d.id, _("The conversation was assigned to you."));
      } else if (had && !isMine(conv(d.id)) && conv(d.id).data.status !== "closed") {
        noticeLocal(d.id, _("The conversation was transferred."));
      }
      if (state.current === d.id) { $("wb-actions").hidden = !isMine(conv(d.id)); $("wb-composer").hidden = !isMine(conv(d.id)); }
      renderQueue(); renderMine();
      return;
    }
    if (t === "conversation.queued" || t === "queue.changed") { refreshQueue(); return; }
    if (t === "conversation.closed") {
      state.queue.delete(Number(cid));
      if (state.convs.has(Number(cid))) { closedLocally(Number(cid)); noticeLocal(Number(cid), _("The conversation was closed.")); }
      renderQueue();
      return;
    }
    if (t === "conversation.transfer_requested") {
      var tr = f.transfer || {};
      // Also published on the conversation group: only the receiving side gets a request row.
      if (tr.to_agent_id === state.me.id || (!tr.to_agent_id && tr.from_agent_id !== state.me.id)) {
        state.transfers.set(tr.id, { transfer: tr, conversation: f.conversation });
        renderTransfers();
        alertUser(_("Transfer request"), (f.conversation && f.conversation.customer_name) || "", f.conversation && f.conversation.id);
      }
      return;
    }
    if (t === "conversation.transfer_resolved") {
      state.transfers.delete(f.transfer_id); renderTransfers();
      var cc = state.convs.get(Number(cid));
      if (cc && cc.data.status === "transfer_pending" && !f.accepted) { cc.data.status = "active"; noticeLocal(cc.id, _("The transfer was declined.")); renderMine(); }
      return;
    }
    if (t === "conversation.rating_requested") { noticeLocal(Number(cid), _("The customer was invited to rate.")); return; }
    if (t === "conversation.rated" || t === "rating.created") { noticeLocal(Number(cid), interpolate(_("Rating received: %(score)s"), { score: f.score || "" }, true)); return; }
    if (t === "agent.status" && f.agent_id === state.me.id) {
      state.me.status = f.status; statusSel.value = f.status === "offline" ? "invisible" : f.status; return;
    }
    if (t === "error") {
      if (f.ref && failPending(f.ref, f.message)) return;
      flash(f.message || f.code || _("Error"), true);
    }
  }
  function onHello(f) {
    // The server follows my assigned conversations live from their current seq; each one this
    // page already holds is resumed from its own last seq, and the server replays the gap.
    (f.conversations || []).forEach(function (d) {
      var c = conv(d.id, { status: d.status });
      c.subscribed = true;
      if (c.loaded || c.lastSeq) sendFrame({ type: "resume", conversation_id: c.id, last_seq: c.lastSeq });
    });
    state.convs.forEach(function (c) {
      if ((c.loaded || c.lastSeq) && !c.subscribed && c.data.status !== "closed") subscribe(c);
      c.pending.forEach(function (m) { if (!m._failed) deliver(m); });
    });
  }
  function subscribe(c) {
    if (sendFrame({ type: "subscribe", conversation_id: c.id, last_seq: c.lastSeq })) c.subscribed = true;
  }
  function onAck(f) {
    var c = conv(f.conversation_id), m = c.pending.get(f.client_msg_id);
    if (!m) return;
    onMessage(Object.assign({}, m, { id: f.id, seq: f.seq, created_at: f.created_at, sender_id: state.me.id,
                                     _pending: false, _failed: false }));
  }
  function failPending(cid, message) {
    var found = false;
    state.convs.forEach(function (c) {
      var m = c.pending.get(cid);
      if (m) { found = true; m._failed = true; m._pending = false; sendError.textContent = message || ""; if (state.current === c.id) renderConversation(c); }
    });
    return found;
  }
  function noticeLocal(id, text) {
    // A local system line; not a message, so it never takes a seq.
    if (state.current === id) { box.appendChild(el("div", { class: "wb-msg wb-msg-notice local" }, text)); box.scrollTop = box.scrollHeight; }
  }

  // --- keyboard ------------------------------------------------------------------------------
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "F6") { ev.preventDefault(); statusSel.focus(); return; }
    if (ev.altKey && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
      ev.preventDefault();
      var ids = Array.prototype.map.call($("wb-mine").children, function (li) { return Number(li.dataset.id); });
      if (!ids.length) return;
      var i = ids.indexOf(state.current);
      i = ev.key === "ArrowDown" ? (i + 1) % ids.length : (i <= 0 ? ids.length - 1 : i - 1);
      select(ids[i]);
      return;
    }
    if (ev.altKey && ev.key.toLowerCase() === "a") { ev.preventDefault(); var first = $("wb-queue").querySelector(".wb-accept"); if (first) first.click(); return; }
    if (ev.altKey && ev.key.toLowerCase() === "w" && state.current) { ev.preventDefault(); openDialog("wb-dlg-close"); return; }
    if (ev.altKey && ev.key.toLowerCase() === "t" && state.current) { ev.preventDefault(); openDialog("wb-dlg-transfer"); return; }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.current) { markRead(conv(state.current)); }
    updateTitle();
  });

  // --- start -------------------------------------------------------------------------------
  boot.conversations.forEach(function (d) { var c = conv(d.id, d); c.unread = d.unread || 0; });
  boot.queue.forEach(function (d) { state.queue.set(d.id, d); });
  renderMine(); renderQueue();
  loadReplies().catch(function () {});
  refreshTransfers();
  connect();
  var m = /^#c(\d+)$/.exec(location.hash);
  if (m && state.convs.has(Number(m[1]))) select(Number(m[1]));
  // Safety net against missed wake-ups: the database is the truth, re-read it now and then.
  setInterval(function () { refreshMine(); }, 15000);
  setInterval(function () { if (state.connected) { refreshQueue(); refreshTransfers(); } }, 30000);
  window.wbSelect = select;
  // Lets the end-to-end tests cut the connection the way a network drop does.
  window.wbDropSocket = function () { if (ws) ws.close(); };
})();
