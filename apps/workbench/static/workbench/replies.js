/* Quick replies (F12): "/" in the composer opens the matching ones; the tab lists, adds, edits
 * and deletes them (personal, and team sets for managers). */
import { api, el, gettext as _ } from "../js/kefu/client.js";
import { insertText } from "./composer.js";
import { $, API, state } from "./state.js";

var popup = $("wb-qr-popup"), qrIndex = 0, qrMatches = [], composerInput = null;

export function loadReplies() {
  return api("GET", API.quickReplies).then(function (res) { state.replies = res.results || []; renderReplyList(); });
}

function matchReplies(q) {
  q = q.toLowerCase();
  return state.replies.filter(function (r) {
    return !q || (r.shortcut && r.shortcut.toLowerCase().indexOf(q) === 0) || r.title.toLowerCase().indexOf(q) >= 0 || r.content.toLowerCase().indexOf(q) >= 0;
  }).slice(0, 8);
}

export function qrPopupOpen() { return !popup.hidden; }

export function updateQrPopup(input) {
  composerInput = input;
  var v = input.value;
  if (v.charAt(0) !== "/" || v.indexOf("\n") >= 0) { popup.hidden = true; return; }
  qrMatches = matchReplies(v.slice(1));
  qrIndex = 0;
  popup.textContent = "";
  if (!qrMatches.length) popup.appendChild(el("div", { class: "muted" }, _("No quick reply matches.")));
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

export function qrKey(ev) {
  if (ev.key === "ArrowDown") { qrIndex = Math.min(qrIndex + 1, qrMatches.length - 1); highlightQr(); ev.preventDefault(); return true; }
  if (ev.key === "ArrowUp") { qrIndex = Math.max(qrIndex - 1, 0); highlightQr(); ev.preventDefault(); return true; }
  if ((ev.key === "Enter" || ev.key === "Tab") && qrMatches.length) { ev.preventDefault(); pickReply(qrMatches[qrIndex]); return true; }
  if (ev.key === "Escape") { popup.hidden = true; ev.preventDefault(); return true; }
  return false;
}

function countUse(r) { api("POST", API.quickReplyUse(r.id), {}).catch(function () { /* counter only */ }); }

function pickReply(r) {
  composerInput.value = r.content;
  popup.hidden = true;
  composerInput.focus();
  composerInput.setSelectionRange(composerInput.value.length, composerInput.value.length);
  countUse(r);
}

function renderReplyList() {
  var list = $("wb-qr-list"), q = $("wb-qr-search").value.trim().toLowerCase();
  list.textContent = "";
  var rows = state.replies.filter(function (r) {
    return !q || r.title.toLowerCase().indexOf(q) >= 0 || r.content.toLowerCase().indexOf(q) >= 0 || (r.shortcut || "").toLowerCase().indexOf(q) === 0;
  });
  if (!rows.length) list.appendChild(el("li", { class: "muted" }, q ? _("No quick reply matches.") : _("No quick replies yet. Add your own below.")));
  rows.forEach(function (r) {
    var li = el("li", { class: "wb-qr-item", dataset: { id: r.id } });
    var head = el("div", { class: "wb-qr-head" });
    head.appendChild(el("strong", null, r.title));
    head.appendChild(el("span", { class: "wb-scope" }, r.scope === "team" ? _("Team") : _("Mine")));
    if (r.shortcut) head.appendChild(el("span", { class: "muted" }, "/" + r.shortcut));
    li.appendChild(head);
    li.appendChild(el("div", { class: "wb-qr-content" }, r.content));
    var bar = el("div", { class: "wb-qr-bar" });
    var use = el("button", { type: "button" }, _("Insert"));
    use.addEventListener("click", function () { insertText(r.content); countUse(r); });
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
  var title = el("input", { name: "title", maxlength: "100", "aria-label": _("Title") }); title.value = r.title;
  var shortcut = el("input", { name: "shortcut", maxlength: "30", "aria-label": _("Shortcut") }); shortcut.value = r.shortcut || "";
  var content = el("textarea", { name: "content", rows: "3", maxlength: "2000", "aria-label": _("Content") }); content.value = r.content;
  var err = el("span", { class: "wb-error-inline", role: "alert" });
  form.appendChild(title); form.appendChild(shortcut); form.appendChild(content);
  form.appendChild(el("button", { type: "submit", class: "primary" }, _("Save")));
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

export function initReplies() {
  $("wb-qr-search").addEventListener("input", renderReplyList);
  $("wb-qr-new").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, err = f.querySelector(".wb-error-inline");
    var body = { title: f.title.value, shortcut: f.shortcut.value, content: f.content.value, scope: f.team && f.team.checked ? "team" : "personal" };
    api("POST", API.quickReplies, body).then(function () { f.reset(); err.textContent = ""; return loadReplies(); })
      .catch(function (e) { err.textContent = e.message; });
  });
}
