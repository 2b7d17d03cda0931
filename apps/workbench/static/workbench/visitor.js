/* Visitor context in the customer panel: the page the customer is on now ("正在浏览 …"),
 * followed live through visitor.page / visitor.left events, and the trail of their recent
 * visits (apps/visitors). Page titles and addresses come from the customer's browser: shown
 * with textContent, linked only when safeUrl accepts them. */
import { api, el, fmt, gettext as _, safeUrl } from "../js/kefu/client.js";
import { addPanelSection } from "./panel.js";
import { handlers } from "./realtime.js";
import { conv, state } from "./state.js";
import { fmtDateTime, fmtTime } from "./time.js";

var DEVICES = { desktop: _("Computer"), mobile: _("Phone"), tablet: _("Tablet"), bot: _("Robot"), other: _("Other device") };
var shown = null; // {conversationId, customerId, box, data}

function link(url, text) {
  var href = safeUrl(url);
  if (!href) return el("span", null, text || url);
  return el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, text || url);
}

function row(label, node) {
  var r = el("div", { class: "wb-kv" });
  r.appendChild(el("span", { class: "wb-k" }, label));
  var v = el("span", { class: "wb-v" });
  if (typeof node === "string") v.textContent = node; else v.appendChild(node);
  r.appendChild(v);
  return r;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return fmt(_("%(s)s s"), { s: seconds });
  return fmt(_("%(m)s min"), { m: Math.round(seconds / 60) });
}

function trail(visit, open) {
  var box = el("details", { class: "wb-visit" });
  box.open = !!open;
  box.appendChild(el("summary", null, fmt(_("Visit %(n)s · %(time)s · %(pages)s pages"),
    { n: visit.number, time: fmtDateTime(visit.started_at), pages: visit.pages })));
  var ol = el("ol", { class: "wb-trail" });
  (visit.page_views || []).forEach(function (p) {
    var li = el("li");
    li.appendChild(el("span", { class: "muted" }, fmtTime(p.at) + " "));
    li.appendChild(link(p.url, p.title || p.url));
    if (p.seconds !== null && p.seconds !== undefined) li.appendChild(el("span", { class: "muted" }, " " + duration(p.seconds)));
    ol.appendChild(li);
  });
  box.appendChild(ol);
  return box;
}

function render() {
  if (!shown || !shown.box.isConnected) return;
  var box = shown.box, d = shown.data, visit = d.visits[0];
  box.textContent = "";
  box.appendChild(el("h4", null, _("Visitor browsing")));
  if (!visit) { box.appendChild(el("p", { class: "muted" }, _("No pages recorded."))); return; }
  var now = el("p", { class: "wb-browsing " + (visit.online ? "online" : "away"), "data-online": visit.online ? "1" : "0" });
  now.appendChild(document.createTextNode(visit.online ? _("Browsing: ") : _("Last page: ")));
  now.appendChild(link(visit.url, visit.title || visit.url));
  box.appendChild(now);
  box.appendChild(row(_("Region"), visit.region || _("Unknown")));
  box.appendChild(row(_("Device"), [DEVICES[visit.device] || visit.device, visit.os, visit.browser].filter(Boolean).join(" · ")));
  if (visit.language) box.appendChild(row(_("Language"), visit.language));
  box.appendChild(row(_("Came from"), visit.referrer ? link(visit.referrer) : _("Direct visit")));
  box.appendChild(row(_("Landing page"), link(visit.landing_url)));
  box.appendChild(row(_("Visits"), fmt(_("Visit %(n)s, %(pages)s pages so far"), { n: visit.number, pages: visit.pages })));
  d.visits.forEach(function (v, i) { box.appendChild(trail(v, i === 0)); });
}

function load(conversationId) {
  return api("GET", "/api/v1/visitors/conversations/" + conversationId + "/").then(function (data) {
    if (!shown || shown.conversationId !== conversationId) return;
    shown.data = data;
    render();
  }).catch(function () { /* the rest of the panel stands */ });
}

addPanelSection(function (box, d, c) {
  if (!d.channel || d.channel.kind !== "web") return;
  shown = { conversationId: c.id, customerId: d.customer.id, box: box, data: { visits: [] } };
  load(c.id);
});

function follow(f) {
  var v = f.visit;
  if (!v || !shown || state.current !== shown.conversationId || v.customer_id !== shown.customerId) return;
  if (conv(shown.conversationId).data.channel_id !== v.channel_id) return;
  var visits = shown.data.visits, first = visits[0];
  if (!first || first.id !== v.id) { load(shown.conversationId); return; }
  if (f.type === "visitor.page" && v.pages > first.pages) {
    var pages = first.page_views || (first.page_views = []);
    if (pages.length) pages[pages.length - 1].seconds = Math.max(0, Math.round((Date.parse(v.last_seen_at) - Date.parse(pages[pages.length - 1].at)) / 1000));
    pages.push({ url: v.url, title: v.title, at: v.last_seen_at, seconds: null });
  }
  Object.assign(first, v, { page_views: first.page_views });
  if (f.type === "visitor.left") first.online = false;
  render();
}
handlers.on("visitor.page", follow);
handlers.on("visitor.left", follow);
