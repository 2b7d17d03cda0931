/* Kefu visitor widget loader.
 *
 *   <script src="https://KEFU-HOST/static/channels/widget.js" data-channel="CHANNEL_KEY" async></script>
 *
 * Optional, for a signed-in customer (signature computed by your server, see docs/channels.md):
 *   data-customer-id, data-customer-timestamp, data-customer-signature, data-customer-name, data-customer-phone
 *
 * Visitor context: unless the channel turns it off, the loader reports the pages the visitor
 * views (address, title, referrer, language) so agents see where they are. Browsers that send
 * Do Not Track or Global Privacy Control are never tracked; with the channel in "consent" mode
 * nothing is sent until the site calls KefuWidget.consent(true) (false stops it at any time).
 *
 * The launcher lives in a shadow root whose :host rules are !important (inner !important beats the
 * page's !important), and the chat itself is an iframe on the Kefu origin: the page's CSS reaches
 * neither, and nothing here styles the page.
 */
(function () {
  "use strict";
  if (window.KefuWidget && window.KefuWidget.loaded) return;

  var script = document.currentScript;
  if (!script || !script.getAttribute("data-channel")) {
    var candidates = document.querySelectorAll("script[data-channel]");
    script = candidates[candidates.length - 1];
  }
  if (!script) return;
  var channel = script.getAttribute("data-channel");
  var base = new URL(script.src, location.href).origin;
  var api = window.KefuWidget = {
    loaded: true, open: function () {}, close: function () {}, identify: function () {}, consent: function () {}
  };

  function attr(name) { return script.getAttribute("data-" + name); }
  var identity = null;
  if (attr("customer-id")) {
    identity = {
      user_id: attr("customer-id"), timestamp: parseInt(attr("customer-timestamp"), 10),
      signature: attr("customer-signature") || "", name: attr("customer-name") || "", phone: attr("customer-phone") || ""
    };
  }
  var activeKey = "kefu.active." + channel;
  function remember(value) { try { if (value) localStorage.setItem(activeKey, "1"); else localStorage.removeItem(activeKey); } catch (e) { /* private mode */ } }
  function remembered() { try { return localStorage.getItem(activeKey) === "1"; } catch (e) { return false; } }

  // --- visitor context ------------------------------------------------------------------
  var consentKey = "kefu.consent." + channel;
  var tracking = "off";
  function stored(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }
  function store(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function refusedByBrowser() {
    return navigator.globalPrivacyControl === true || navigator.doNotTrack === "1" || window.doNotTrack === "1";
  }
  function mayTrack() {
    if (tracking === "off" || refusedByBrowser() || stored(consentKey) === "0") return false;
    return tracking === "on" || stored(consentKey) === "1";
  }
  // This browser's random id on this site (not the chat's): lets a visit continue across pages.
  var visitorKey = stored("kefu.vk");
  if (!visitorKey || !/^[A-Za-z0-9_-]{16,64}$/.test(visitorKey)) {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    visitorKey = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    store("kefu.vk", visitorKey);
  }
  var trackUrl = base + "/api/v1/visitors/track/";
  var pingMs = 15000, lastPage = "", onInvitation = null;
  function pageUrl() { return location.href.split("#")[0]; }
  function report(event) {
    if (!mayTrack()) return;
    var body = { channel: channel, visitor: visitorKey, event: event, consent: stored(consentKey) === "1" };
    if (event === "page") {
      lastPage = pageUrl();
      body.url = lastPage;
      body.title = document.title || "";
      body.referrer = document.referrer || "";
      body.language = navigator.language || "";
    }
    var text = JSON.stringify(body);
    if (event === "leave" && navigator.sendBeacon) {
      navigator.sendBeacon(trackUrl, new Blob([text], { type: "text/plain" }));
      return;
    }
    // text/plain: a CORS "simple" request, no preflight.
    fetch(trackUrl, { method: "POST", body: text, headers: { "Content-Type": "text/plain" }, credentials: "omit", keepalive: event === "leave" })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (d) {
        if (!d) return;
        if (d.ping_seconds) pingMs = Math.max(1000, d.ping_seconds * 1000);
        if (d.invitation && onInvitation) onInvitation(d.invitation);
      })
      .catch(function () { /* context is a nicety: never break the page */ });
  }
  function pageChanged() { if (pageUrl() !== lastPage) report("page"); }
  function startTracking() {
    report("page");
    // Single-page sites change the address without loading a page.
    ["pushState", "replaceState"].forEach(function (name) {
      var original = history[name];
      history[name] = function () { var out = original.apply(this, arguments); setTimeout(pageChanged, 0); return out; };
    });
    window.addEventListener("popstate", pageChanged);
    window.addEventListener("pagehide", function () { report("leave"); });
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") pageChanged(); });
    (function ping() {
      setTimeout(function () { if (document.visibilityState === "visible") report("ping"); ping(); }, pingMs);
    })();
  }
  function decline(id) {
    var body = { channel: channel, visitor: visitorKey, event: "decline", invitation: id, consent: stored(consentKey) === "1" };
    fetch(trackUrl, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "text/plain" }, credentials: "omit" })
      .catch(function () {});
  }
  api.consent = function (yes) {
    store(consentKey, yes ? "1" : "0");
    if (yes) report("page");
  };

  fetch(base + "/api/v1/widget/config/?channel=" + encodeURIComponent(channel), { credentials: "omit" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(mount)
    .catch(function (e) { if (window.console) console.warn("[kefu] chat widget not shown for this site:", e.message); });

  var CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  var CLOSE_ICON = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";
  function setIcon(button, path) {
    var old = button.querySelector("svg");
    if (old) button.removeChild(old);
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("fill", "#fff");
    p.setAttribute("d", path);
    svg.appendChild(p);
    button.insertBefore(svg, button.firstChild);
  }

  function mount(config) {
    tracking = config.visitor_tracking || "off";
    startTracking();
    var color = /^#[0-9a-fA-F]{3,8}$/.test(config.theme_color || "") ? config.theme_color : "#1f6feb";
    var host = document.createElement("kefu-widget");
    host.setAttribute("data-channel", channel);
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = [
      ":host{all:initial !important;display:block !important;position:fixed !important;z-index:2147483000 !important;",
      "right:20px !important;bottom:20px !important;left:auto !important;top:auto !important;width:auto !important;height:auto !important;",
      "margin:0 !important;padding:0 !important;border:0 !important;transform:none !important;opacity:1 !important;",
      "visibility:visible !important;filter:none !important;clip-path:none !important;pointer-events:auto !important;",
      "font:14px/1.4 sans-serif !important;color:#1f2328 !important;direction:ltr !important;}",
      ".launcher{all:initial;box-sizing:border-box;display:flex;align-items:center;justify-content:center;width:56px;height:56px;",
      "border-radius:50%;background:" + color + ";color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);position:relative;",
      "font:26px/1 sans-serif;margin-left:auto;}",
      ".launcher:focus-visible{outline:3px solid #80b3ff;outline-offset:2px;}",
      ".badge{all:initial;position:absolute;top:-4px;right:-4px;min-width:18px;height:18px;padding:0 5px;box-sizing:border-box;",
      "border-radius:9px;background:#d1242f;color:#fff;font:bold 11px/18px sans-serif;text-align:center;}",
      ".panel{all:initial;display:block;position:absolute;right:0;bottom:70px;width:370px;height:560px;max-height:calc(100vh - 100px);",
      "border-radius:12px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.25);background:#fff;}",
      ".panel[hidden],.badge[hidden],.invite[hidden]{display:none;}",
      // An invitation to chat: who invites, what they say, reply or dismiss.
      ".invite{all:initial;display:block;position:absolute;right:0;bottom:70px;width:260px;box-sizing:border-box;padding:14px 16px;",
      "border-radius:12px;background:#fff;color:#1f2328;box-shadow:0 8px 30px rgba(0,0,0,.25);font:14px/1.5 sans-serif;}",
      ".invite b{all:initial;display:block;font:bold 14px/1.4 sans-serif;color:#1f2328;margin-bottom:4px;}",
      ".invite p{all:initial;display:block;font:14px/1.5 sans-serif;color:#1f2328;margin-bottom:10px;white-space:pre-wrap;}",
      ".invite button{all:initial;box-sizing:border-box;cursor:pointer;font:14px/1 sans-serif;padding:8px 14px;border-radius:6px;margin-right:8px;}",
      ".invite .reply{background:" + color + ";color:#fff;}.invite .dismiss{background:#eef0f3;color:#1f2328;}",
      ".invite button:focus-visible{outline:3px solid #80b3ff;outline-offset:2px;}",
      "iframe{all:initial;display:block;width:100%;height:100%;border:0;}",
      "svg{all:initial;display:block;width:26px;height:26px;}",
      // Phones: the chat takes the whole screen (mobile H5).
      "@media (max-width:600px){.panel{position:fixed;left:0;top:0;right:0;bottom:0;width:100vw;height:100%;max-height:none;border-radius:0;}",
      ".open .launcher{display:none;}}"
    ].join("");
    root.appendChild(style);
    var wrap = document.createElement("div");
    wrap.className = "wrap";
    var panel = document.createElement("div");
    panel.className = "panel";
    panel.hidden = true;
    var launcher = document.createElement("button");
    launcher.className = "launcher";
    launcher.type = "button";
    launcher.setAttribute("aria-label", (config.company && config.company.name ? config.company.name + " " : "") + (config.label || "chat"));
    setIcon(launcher, CHAT_ICON);
    var badge = document.createElement("span");
    badge.className = "badge";
    badge.hidden = true;
    launcher.appendChild(badge);
    var invite = document.createElement("div");
    invite.className = "invite";
    invite.hidden = true;
    invite.setAttribute("role", "dialog");
    var inviteFrom = document.createElement("b");
    var inviteText = document.createElement("p");
    var inviteReply = document.createElement("button");
    inviteReply.type = "button";
    inviteReply.className = "reply";
    inviteReply.textContent = (config.invite_labels && config.invite_labels.reply) || "Reply";
    var inviteClose = document.createElement("button");
    inviteClose.type = "button";
    inviteClose.className = "dismiss";
    inviteClose.textContent = (config.invite_labels && config.invite_labels.close) || "Close";
    invite.appendChild(inviteFrom);
    invite.appendChild(inviteText);
    invite.appendChild(inviteReply);
    invite.appendChild(inviteClose);
    wrap.appendChild(invite);
    wrap.appendChild(panel);
    wrap.appendChild(launcher);
    root.appendChild(wrap);
    // On <html>, not <body>: a transform on the page's body must not move a fixed launcher.
    document.documentElement.appendChild(host);

    var frame = null;
    var frameReady = false;
    var pendingInvitation = null;
    var isOpen = false;

    function post(msg) { if (frame && frame.contentWindow) frame.contentWindow.postMessage(msg, base); }
    function ensureFrame() {
      if (frame) return;
      frame = document.createElement("iframe");
      frame.title = (config.company && config.company.name) || "chat";
      frame.setAttribute("allow", "clipboard-write");
      frame.src = base + "/widget/frame/?channel=" + encodeURIComponent(channel);
      panel.appendChild(frame);
    }
    function setOpen(value) {
      isOpen = value;
      if (value) ensureFrame();
      panel.hidden = !value;
      wrap.className = value ? "wrap open" : "wrap";
      setIcon(launcher, value ? CLOSE_ICON : CHAT_ICON);
      launcher.appendChild(badge);
      if (value) badge.hidden = true;
      if (frameReady) post({ kefu: "visible", value: value });
    }
    launcher.addEventListener("click", function () { invite.hidden = true; setOpen(!isOpen); });

    // Invitations arrive in the answers to page reports and pings (text only, never markup).
    var invitation = null, answered = {};
    onInvitation = function (inv) {
      if (isOpen || answered[inv.id] || (invitation && invitation.id === inv.id)) return;
      invitation = inv;
      inviteFrom.textContent = inv.from || "";
      inviteText.textContent = inv.message || "";
      invite.setAttribute("aria-label", inv.from || "");
      invite.hidden = false;
    };
    inviteReply.addEventListener("click", function () {
      if (!invitation) return;
      answered[invitation.id] = true;
      invite.hidden = true;
      pendingInvitation = invitation.id;
      setOpen(true);
      if (frameReady) { post({ kefu: "invite", invitation: pendingInvitation, visitor: visitorKey }); pendingInvitation = null; }
    });
    inviteClose.addEventListener("click", function () {
      if (!invitation) return;
      answered[invitation.id] = true;
      invite.hidden = true;
      decline(invitation.id);
      invitation = null;
    });

    window.addEventListener("message", function (ev) {
      if (!frame || ev.source !== frame.contentWindow || ev.origin !== base) return;
      var d = ev.data || {};
      if (d.kefu === "ready") {
        frameReady = true;
        post({ kefu: "init", identity: identity, visitor: mayTrack() ? visitorKey : null, invitation: pendingInvitation });
        pendingInvitation = null;
        post({ kefu: "visible", value: isOpen });
      } else if (d.kefu === "close") {
        setOpen(false);
      } else if (d.kefu === "unread") {
        badge.textContent = d.count > 99 ? "99+" : String(d.count || "");
        badge.hidden = isOpen || !d.count;
      } else if (d.kefu === "active") {
        remember(!!d.value);
      }
    });

    api.open = function () { setOpen(true); };
    api.close = function () { setOpen(false); };
    api.identify = function (id) {
      identity = id;
      if (frameReady) post({ kefu: "init", identity: identity, visitor: mayTrack() ? visitorKey : null });
    };
    // A visitor with a conversation in progress gets agent replies and the badge on every page.
    if (remembered()) ensureFrame();
  }
})();
