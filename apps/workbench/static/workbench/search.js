/* Conversation search: by customer (nickname, name, phone) or by what was said, over the
 * conversations I served. An open one of mine opens here; a past one opens its transcript. */
import { api, el, gettext as _ } from "../js/kefu/client.js";
import { select } from "./conversation.js";
import { statusLabel } from "./conversation.js";
import { $, API, isMine, state } from "./state.js";
import { fmtDateTime } from "./time.js";

var input = $("wb-search"), results = $("wb-search-results"), timer = null, seq = 0, active = -1;

export function focusSearch() { input.focus(); input.select(); }

function close() { results.hidden = true; results.textContent = ""; active = -1; }

function open(row) {
  var c = state.convs.get(row.id);
  close();
  input.value = "";
  if (c && isMine(c)) select(row.id);
  else window.open("/workbench/history/" + Number(row.id) + "/", "_blank", "noopener");
}

function highlight() {
  Array.prototype.forEach.call(results.querySelectorAll("[role=option]"), function (o, i) {
    o.classList.toggle("active", i === active);
    o.setAttribute("aria-selected", i === active ? "true" : "false");
  });
}

function show(rows, q) {
  results.textContent = "";
  active = rows.length ? 0 : -1;
  if (!rows.length) results.appendChild(el("li", { class: "muted" }, _("No conversation matches.")));
  rows.forEach(function (r) {
    var li = el("li", { role: "option", class: "wb-search-row", dataset: { id: r.id } });
    var head = el("div", { class: "wb-search-head" });
    head.appendChild(el("strong", null, r.customer_name || _("Visitor")));
    head.appendChild(el("span", { class: "muted" }, [statusLabel(r.status), fmtDateTime(r.created_at)].filter(Boolean).join(" · ")));
    li.appendChild(head);
    if (r.snippet || r.last_message_preview) li.appendChild(el("div", { class: "wb-item-last" }, r.snippet || r.last_message_preview));
    li.addEventListener("mousedown", function (ev) { ev.preventDefault(); open(r); });
    results.appendChild(li);
  });
  results.hidden = false;
  results.rows = rows;
  highlight();
}

function run() {
  var q = input.value.trim();
  if (q.length < 2) { close(); return; }
  var mine = ++seq;
  api("GET", API.search + "?q=" + encodeURIComponent(q)).then(function (res) {
    if (mine !== seq) return;
    show(res.results || [], q);
  }).catch(function (e) { if (mine === seq) { results.textContent = ""; results.appendChild(el("li", { class: "wb-error" }, e.message)); results.hidden = false; } });
}

export function initSearch() {
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 250); });
  input.addEventListener("keydown", function (ev) {
    var rows = results.rows || [];
    if (ev.key === "Escape") { close(); input.blur(); return; }
    if (results.hidden || !rows.length) return;
    if (ev.key === "ArrowDown") { ev.preventDefault(); active = Math.min(active + 1, rows.length - 1); highlight(); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); active = Math.max(active - 1, 0); highlight(); }
    else if (ev.key === "Enter" && active >= 0) { ev.preventDefault(); open(rows[active]); }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
}
