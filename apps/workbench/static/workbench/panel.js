/* The right column: the customer panel (F11) and the bot's suggestions for the agent (F54).
 * Other features add their own sections to the panel with addPanelSection(). */
import { api, el, gettext as _ } from "../js/kefu/client.js";
import { insertText } from "./composer.js";
import { $, API, state } from "./state.js";
import { fmtDateTime } from "./time.js";

/** A label and a value; one click puts the value in the composer. */
export function panelValue(label, value) {
  var row = el("div", { class: "wb-kv" });
  row.appendChild(el("span", { class: "wb-k" }, label));
  var v = el("button", { type: "button", class: "wb-v link", title: _("Insert into the message") }, value);
  v.addEventListener("click", function () { insertText(String(value)); });
  row.appendChild(v);
  return row;
}

function text(value) { return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value); }

// fn(container, panelData, conversation): extra sections after the facts (visitor context ...).
var sections = [];
export function addPanelSection(fn) { sections.push(fn); }

export function loadCustomer(c) {
  var panel = $("wb-customer");
  panel.textContent = "";
  panel.appendChild(el("p", { class: "muted" }, _("Loading…")));
  api("GET", API.customer(c.id)).then(function (d) {
    if (state.current !== c.id) return;
    panel.textContent = "";
    panel.classList.remove("muted");
    var cu = d.customer;
    var head = el("h3", { class: "wb-cust-name" }, cu.name);
    if (cu.is_vip) head.appendChild(el("span", { class: "wb-vip" }, "VIP"));
    panel.appendChild(head);
    panel.appendChild(panelValue(_("Channel"), d.channel.name));
    // Each fact once, with its label: the server merged what the customer record, the bot's
    // capture and the conversation's text know.
    (d.facts || []).forEach(function (f) { panel.appendChild(panelValue(f.label, text(f.value))); });
    sections.forEach(function (fn) {
      var box = el("section", { class: "wb-panel-section" });
      panel.appendChild(box);
      try { fn(box, d, c); } catch (e) { if (window.console) console.error(e); }
    });
    panel.appendChild(el("h4", null, _("Past conversations")));
    if (!d.past_conversations.length) panel.appendChild(el("p", { class: "muted" }, _("None")));
    var ul = el("ul", { class: "wb-past" });
    d.past_conversations.forEach(function (p) {
      var li = el("li");
      li.appendChild(el("a", { href: "/workbench/history/" + Number(p.id) + "/", target: "_blank" }, fmtDateTime(p.created_at)));
      li.appendChild(el("span", { class: "muted" }, " " + (p.agent || "") + (p.score ? " " + p.score + "★" : "")));
      if (p.preview) li.appendChild(el("div", { class: "wb-item-last" }, p.preview));
      ul.appendChild(li);
    });
    panel.appendChild(ul);
  }).catch(function (e) { panel.textContent = e.message; });
}

var assistUsed = null; // {conversation, entry_id, text}: counted when it is sent

/** The composer sent `text`: if it came from a suggestion, count its use (sent or edited). */
export function assistSent(c, text) {
  if (!assistUsed || assistUsed.conversation !== c.id || text.indexOf(assistUsed.text.slice(0, 20)) < 0) return;
  api("POST", API.assistUsage(c.id), { entry_id: assistUsed.entry_id, action: text.trim() === assistUsed.text.trim() ? "sent" : "edited" })
    .catch(function () { /* statistics only */ });
  assistUsed = null;
}

export function loadAssist(c) {
  var panel = $("wb-assist");
  panel.textContent = "";
  api("GET", API.assist(c.id)).then(function (d) {
    if (state.current !== c.id) return;
    var items = d.suggestions || d.results || [];
    if (!items.length) { panel.appendChild(el("p", { class: "muted" }, _("No suggestions."))); return; }
    items.forEach(function (s) {
      var answer = s.answer || s.content || s.text || "";
      var row = el("div", { class: "wb-assist-item" });
      row.appendChild(el("strong", null, s.question || s.title || ""));
      row.appendChild(el("div", { class: "wb-qr-content" }, answer));
      var ins = el("button", { type: "button" }, _("Insert"));
      ins.addEventListener("click", function () {
        insertText(answer);
        if (s.entry_id) assistUsed = { conversation: c.id, entry_id: s.entry_id, text: answer };
      });
      row.appendChild(ins);
      panel.appendChild(row);
    });
  }).catch(function () { panel.appendChild(el("p", { class: "muted" }, _("Assist is not available."))); });
}

export function initPanel() {
  var tabs = document.querySelectorAll(".wb-tabs [role=tab]");
  Array.prototype.forEach.call(tabs, function (tab) {
    tab.addEventListener("click", function () {
      Array.prototype.forEach.call(tabs, function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        $("wb-tab-" + t.dataset.tab).hidden = !on;
      });
    });
  });
}
