/* The one client layer shared by every page that talks to the server: the agent workbench, the
 * visitor widget frame and the supervisor monitor. Plain ES module, no build step.
 *
 *   import { api, safeUrl, Socket, SeqLog } from "/static/js/kefu/client.js";
 *
 * - api(): JSON over fetch with one error shape ({error: {code, message}}, docs/protocol.md);
 * - safeUrl(): the only gate for a URL that reaches src/href;
 * - Socket: one reconnect loop (backoff with jitter, ping, dead-connection detection) that
 *   dispatches every incoming frame through a map of handlers;
 * - SeqLog: per-conversation seq tracking (duplicates dropped, gaps noticed) and the resume frame.
 * Message content reaches the page only through textContent (el() below), never innerHTML.
 */

// ------------------------------------------------------------------ text and DOM helpers
export function gettext(s) { return window.gettext ? window.gettext(s) : s; }

/** "%(name)s" placeholders, as Django's interpolate() with named=true. */
export function fmt(template, values) {
  return String(template).replace(/%\((\w+)\)s/g, function (_m, k) {
    return values && values[k] !== undefined && values[k] !== null ? values[k] : "";
  });
}

/** createElement with attributes; text goes in through textContent only. */
export function el(tag, attrs, text) {
  var node = document.createElement(tag);
  if (attrs) {
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.keys(v).forEach(function (d) { node.dataset[d] = v[d]; });
      else if (k === "hidden") node.hidden = !!v;
      else node.setAttribute(k, v === true ? "" : v);
    });
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
}

/** A URL safe to put in src/href: a same-origin path, or an absolute http(s) URL. Anything
 * else (javascript:, data:, protocol-relative //host, garbage) gives "". */
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return "";
  if (url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\") return url;
  if (!/^https?:\/\//i.test(url)) return "";
  try {
    var u = new URL(url);
    return (u.protocol === "http:" || u.protocol === "https:") ? u.href : "";
  } catch (e) { return ""; }
}

/** Keyed list rendering: items are matched to existing children by key, built once, refilled,
 * reordered in place and the leftovers removed (focus and scroll positions survive). */
export function renderKeyed(list, items, key, build, fill) {
  var existing = new Map();
  Array.prototype.forEach.call(list.children, function (node) {
    if (node.dataset.key !== undefined) existing.set(node.dataset.key, node);
  });
  items.forEach(function (item, i) {
    var k = String(key(item));
    var node = existing.get(k);
    if (node) existing.delete(k);
    else { node = build(item); node.dataset.key = k; }
    fill(node, item);
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
  });
  existing.forEach(function (node) { node.remove(); });
}

// ------------------------------------------------------------------ REST
export function csrfToken() {
  var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (m) return decodeURIComponent(m[1]);
  var input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export class ApiError extends Error {
  constructor(message, status, data) {
    super(message);
    this.status = status;
    this.data = data;
    this.code = data && data.error ? data.error.code : "";
  }
}

/** An api(method, url, body, {form}) function. `headers()` adds per-call headers (a visitor
 * token, the CSRF token); `credentials` is fetch's. Errors throw ApiError with the server's
 * message (already in the user's language), or `fallback` when there is none. */
export function createApi(options) {
  options = options || {};
  var credentials = options.credentials || "same-origin";
  return function api(method, url, body, opts) {
    var headers = { "Accept": "application/json" };
    if (options.headers) Object.assign(headers, options.headers());
    var init = { method: method, credentials: credentials, headers: headers };
    if (body !== undefined && body !== null) {
      if (opts && opts.form) init.body = body;
      else { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    }
    return fetch(url, init).then(function (r) {
      if (r.status === 204) return {};
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var fallback = options.fallback ? options.fallback(r.status) : gettext("Request failed") + " (" + r.status + ")";
          throw new ApiError((data && data.error && data.error.message) || fallback, r.status, data);
        }
        return data || {};
      });
    });
  };
}

/** Staff pages: the session cookie plus Django's CSRF token. */
export var api = createApi({ headers: function () { return { "X-CSRFToken": csrfToken() }; } });

// ------------------------------------------------------------------ events
/** A map of handlers by frame type. Several handlers may listen to one type (a feature adds
 * its own without touching the others); "*" sees every frame. The server's {type: "event",
 * event} envelope is unwrapped. */
export class Handlers {
  constructor(map) {
    this.map = new Map();
    if (map) this.add(map);
  }
  on(type, fn) {
    if (!this.map.has(type)) this.map.set(type, []);
    this.map.get(type).push(fn);
    return this;
  }
  add(map) {
    var self = this;
    Object.keys(map).forEach(function (type) { self.on(type, map[type]); });
    return this;
  }
  dispatch(frame) {
    if (!frame || typeof frame.type !== "string") return false;
    if (frame.type === "event" && frame.event) return this.dispatch(frame.event);
    var fns = (this.map.get(frame.type) || []).concat(this.map.get("*") || []);
    fns.forEach(function (fn) {
      try { fn(frame); } catch (e) { if (window.console) console.error("handler for " + frame.type + " failed", e); }
    });
    return fns.length > 0;
  }
}

// ------------------------------------------------------------------ the websocket
export function wsUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

/** One websocket with the reconnect loop every page needs.
 *
 * options: url() -> string (called at every (re)connect), handlers (Handlers), onOpen(isReconnect),
 * onClose(event, delayMs) (return false to stop reconnecting), onState(state) with
 * "connecting" | "open" | "reconnecting" | "stopped", pingMs (25 s), deadMs (a socket silent for
 * this long is closed and reopened, 75 s), maxDelayMs (30 s).
 * The server's hello frame resets the backoff. */
export class Socket {
  constructor(options) {
    this.o = Object.assign({ pingMs: 25000, deadMs: 75000, maxDelayMs: 30000, baseDelayMs: 500 }, options);
    this.handlers = this.o.handlers || new Handlers();
    this.ws = null;
    this.retry = 0;
    this.connected = false;
    this.everOpened = false;
    this.stopped = false;
    this.lastFrameAt = 0;
    this.timer = null;
    this.pinger = null;
    var self = this;
    window.addEventListener("online", function () { if (!self.connected && !self.stopped) self.reconnectNow(); });
  }
  state(s) { if (this.o.onState) this.o.onState(s, this); }
  start() {
    this.stopped = false;
    this.open();
    return this;
  }
  open() {
    var self = this;
    clearTimeout(this.timer);
    this.state(this.everOpened ? "reconnecting" : "connecting");
    var url = this.o.url();
    if (!url) return;
    var ws;
    try { ws = new WebSocket(url); } catch (e) { this.scheduleReconnect(null); return; }
    this.ws = ws;
    ws.onopen = function () {
      if (self.ws !== ws) return;
      var again = self.everOpened;
      self.everOpened = true;
      self.connected = true;
      self.lastFrameAt = Date.now();
      clearInterval(self.pinger);
      self.pinger = setInterval(function () { self.heartbeat(); }, self.o.pingMs);
      self.state("open");
      if (self.o.onOpen) self.o.onOpen(again);
    };
    ws.onmessage = function (ev) {
      if (self.ws !== ws) return;
      self.lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      self.retry = 0; // the server answers: the connection works
      self.handlers.dispatch(frame);
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self.connected = false;
      clearInterval(self.pinger);
      self.scheduleReconnect(ev);
    };
    ws.onerror = function () { /* onclose follows */ };
  }
  heartbeat() {
    if (!this.connected) return;
    if (Date.now() - this.lastFrameAt > this.o.deadMs) { this.drop(); return; }
    this.send({ type: "ping" });
  }
  scheduleReconnect(ev) {
    if (this.stopped) return;
    var delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * Math.pow(2, this.retry++)) * (0.75 + Math.random() * 0.5);
    if (this.o.onClose && this.o.onClose(ev, delay) === false) { this.stopped = true; this.state("stopped"); return; }
    this.state("reconnecting");
    var self = this;
    this.timer = setTimeout(function () { self.open(); }, delay);
  }
  reconnectNow() { this.retry = 0; clearTimeout(this.timer); if (this.ws) { var old = this.ws; this.ws = null; try { old.close(); } catch (e) { /* closing */ } } this.open(); }
  /** Close the socket the way a network drop does (it reconnects). */
  drop() { if (this.ws) { try { this.ws.close(); } catch (e) { /* closing */ } } }
  stop() { this.stopped = true; clearTimeout(this.timer); clearInterval(this.pinger); this.drop(); }
  send(frame) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

// ------------------------------------------------------------------ seq tracking
/** What this page holds of one conversation's gap-free seq: which seqs it has, the highest
 * one, and whether a new message leaves a gap (then catch up from the database). */
export class SeqLog {
  constructor(lastSeq) { this.seen = new Set(); this.last = lastSeq || 0; this.min = null; }
  has(seq) { return this.seen.has(seq); }
  /** Records a message's seq; false when it was already here (a duplicate wake-up or replay). */
  add(seq) {
    if (!seq) return true; // not stored yet (pending): nothing to track
    if (this.seen.has(seq)) return false;
    this.seen.add(seq);
    if (seq > this.last) this.last = seq;
    if (this.min === null || seq < this.min) this.min = seq;
    return true;
  }
  /** True when `seq` skips over messages this page never got. */
  gapBefore(seq) { return !!seq && this.last > 0 && seq > this.last + 1; }
  reset() { this.seen.clear(); this.last = 0; this.min = null; }
  /** The frame that resumes the conversation on a socket from what this page already has. */
  resumeFrame(conversationId) { return { type: "resume", conversation_id: conversationId, last_seq: this.last }; }
}

/** Pages of messages after `afterSeq` from the REST API, in order, until the server says there
 * are no more (the database is the truth; the socket only wakes us). */
export function fetchAfter(apiFn, url, afterSeq, onMessage, pageSize) {
  pageSize = pageSize || 200;
  return apiFn("GET", url + (url.indexOf("?") >= 0 ? "&" : "?") + "after_seq=" + afterSeq + "&limit=" + pageSize).then(function (res) {
    var rows = res.messages || [];
    var last = afterSeq;
    rows.forEach(function (m) { onMessage(m); if (m.seq > last) last = m.seq; });
    if (res.has_more_after && rows.length) return fetchAfter(apiFn, url, last, onMessage, pageSize);
    return last;
  });
}
