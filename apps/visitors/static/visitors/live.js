/* The supervisors' live visitor list (/ws/visitors/): full snapshots, pushed when a visitor opens
 * a page or leaves. Page titles and addresses come from visitors' browsers: text only, links
 * only through safeUrl. */
import { Handlers, Socket, el, fmt, safeUrl, wsUrl } from "../js/kefu/client.js";

var labels = JSON.parse(document.getElementById("visitor-labels").textContent);
var live = document.getElementById("live-state");
var byBranch = document.getElementById("filter-branch");
var byChannel = document.getElementById("filter-channel");
var zone = document.getElementById("visitor-table").dataset.timeZone || undefined;

function link(url, text) {
  var href = safeUrl(url);
  return href ? el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, text || url) : el("span", null, text || url || "");
}
function td(tr, content, cls) {
  var cell = el("td", cls ? { class: cls } : null);
  if (typeof content === "string") cell.textContent = content; else if (content) cell.appendChild(content);
  tr.appendChild(cell);
}
function empty(body, text) {
  var cols = body.closest("table").querySelectorAll("thead th").length;
  var tr = el("tr"); tr.appendChild(el("td", { class: "empty", colspan: String(cols) }, text)); body.appendChild(tr);
}

function render(s) {
  var names = {};
  var channels = document.getElementById("channels");
  channels.replaceChildren();
  s.channels.forEach(function (c) {
    names[c.id] = c.name;
    var tr = el("tr"); tr.dataset.channel = c.id;
    td(tr, c.name); td(tr, c.branch || "-"); td(tr, String(c.visitors), "num"); td(tr, String(c.chatting), "num");
    channels.appendChild(tr);
  });
  if (!s.channels.length) empty(channels, labels.no_channels);
  var visitors = document.getElementById("visitors");
  visitors.replaceChildren();
  s.visitors.forEach(function (v) {
    var tr = el("tr"); tr.dataset.visit = v.id;
    td(tr, link(v.url, v.title || v.url));
    td(tr, names[v.channel_id] || "");
    td(tr, v.region || "-");
    td(tr, [labels.devices[v.device] || v.device, v.os, v.browser].filter(Boolean).join(" · "));
    td(tr, v.referrer ? link(v.referrer) : labels.direct);
    td(tr, String(v.pages), "num");
    td(tr, new Date(v.started_at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", timeZone: zone }) + " · " + fmt(labels.visit, { n: v.number }));
    if (v.conversation_id) td(tr, el("a", { href: "/supervisor/conversations/" + Number(v.conversation_id) + "/" }, labels.chatting));
    else td(tr, v.chatting ? labels.chatting : labels.browsing);
    visitors.appendChild(tr);
  });
  if (!s.visitors.length) empty(visitors, labels.none);
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
}

render(JSON.parse(document.getElementById("initial-visitors").textContent));

function filter() {
  return { type: "filter", branch_id: byBranch.value ? Number(byBranch.value) : null, channel_id: byChannel.value ? Number(byChannel.value) : null };
}
var socket = new Socket({
  url: function () { return wsUrl("/ws/visitors/"); },
  handlers: new Handlers({ "visitors.snapshot": function (f) { render(f.snapshot); } }),
  onOpen: function () { if (byBranch.value || byChannel.value) socket.send(filter()); },
  onState: function (state) { live.dataset.state = state; live.textContent = labels.state[state] || ""; },
  maxDelayMs: 15000,
}).start();
[byBranch, byChannel].forEach(function (s) { s.addEventListener("change", function () { socket.send(filter()); }); });
