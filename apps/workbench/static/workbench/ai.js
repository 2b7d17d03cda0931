/* AI assistance (apps/assist, off unless the company switched it on): the summary written when a
 * conversation was transferred or closed, shown above the messages (to the agent receiving it, and
 * in the closed conversation), and "Suggest replies": 1-3 replies from the company's AI provider;
 * a click puts one in the composer, where the agent edits it before sending. Whatever goes wrong
 * (off, timeout, provider error) shows "unavailable"; sending never waits for it. */
import { api, el, gettext as _ } from "../js/kefu/client.js";
import { onSelect } from "./conversation.js";
import { insertText } from "./composer.js";
import { handlers } from "./realtime.js";
import { $, isMine, state } from "./state.js";

var URL_ = {
  info: function (cid) { return "/api/v1/assist/conversations/" + cid + "/"; },
  suggest: function (cid) { return "/api/v1/assist/conversations/" + cid + "/suggestions/"; },
  one: function (id) { return "/api/v1/assist/suggestions/" + id + "/"; },
};
var POLL_MS = 1000, GIVE_UP_MS = 75000;
var box = $("wb-ai-summary"), button = $("wb-ai-suggest"), list = $("wb-ai-suggestions");
var info = new Map(); // conversation id -> {enabled, suggestions_enabled, summaries}

function current() { return state.current && state.convs.get(state.current); }

function summaryLine(s) {
  if (s.status === "ok") return s.text;
  if (s.status === "pending") return _("Writing the summary…");
  return _("AI summary unavailable.");
}

function renderSummary(c) {
  var got = c && info.get(c.id);
  var latest = got && got.enabled && got.summaries.length ? got.summaries[0] : null;
  box.hidden = !latest;
  box.textContent = "";
  if (!latest) return;
  box.dataset.status = latest.status;
  box.appendChild(el("strong", {}, latest.trigger === "close" ? _("AI summary (closed)") : _("AI summary (transfer)")));
  box.appendChild(el("p", { class: "wb-ai-summary-text" }, summaryLine(latest)));
}

function renderButton(c) {
  var got = c && info.get(c.id);
  button.hidden = !(got && got.suggestions_enabled && isMine(c));
}

function showSuggestions(cid, row) {
  if (state.current !== cid) return;
  list.textContent = "";
  list.hidden = false;
  if (!row || row.status === "unavailable" || (row.status === "ok" && !row.suggestions.length)) {
    list.appendChild(el("span", { class: "wb-ai-unavailable muted" }, _("AI suggestions unavailable.")));
    return;
  }
  if (row.status === "pending") { list.appendChild(el("span", { class: "muted" }, _("Thinking…"))); return; }
  row.suggestions.forEach(function (text) {
    var chip = el("button", { type: "button", class: "wb-ai-suggestion", title: _("Insert into the message (you can edit it before sending)") }, text);
    chip.addEventListener("click", function () { insertText(text); list.hidden = true; list.textContent = ""; });
    list.appendChild(chip);
  });
}

function poll(cid, id, started) {
  api("GET", URL_.one(id)).then(function (row) {
    if (row.status === "pending" && Date.now() - started < GIVE_UP_MS) {
      setTimeout(function () { poll(cid, id, started); }, POLL_MS);
      return;
    }
    showSuggestions(cid, row.status === "pending" ? null : row);
    button.disabled = false;
  }).catch(function () { showSuggestions(cid, null); button.disabled = false; });
}

function suggest() {
  var c = current();
  if (!c) return;
  button.disabled = true;
  showSuggestions(c.id, { status: "pending", suggestions: [] });
  api("POST", URL_.suggest(c.id), {}).then(function (row) {
    if (row.status === "pending") { poll(c.id, row.id, Date.now()); return; }
    showSuggestions(c.id, row);
    button.disabled = false;
  }).catch(function () { showSuggestions(c.id, null); button.disabled = false; });
}

function load(c) {
  return api("GET", URL_.info(c.id)).then(function (res) {
    info.set(c.id, res);
    if (state.current === c.id) { renderSummary(c); renderButton(c); }
  }).catch(function () { info.delete(c.id); if (state.current === c.id) { renderSummary(null); renderButton(null); } });
}

onSelect(function (c) {
  list.hidden = true; list.textContent = ""; button.disabled = false;
  renderSummary(c); renderButton(c);
  load(c);
});

// A summary finished (a transfer addressed to me, a conversation I hold closing): keep it, show it.
handlers.on("assist.summary", function (f) {
  var got = info.get(f.conversation_id);
  if (got) {
    got.summaries = [f.summary].concat(got.summaries.filter(function (s) { return s.id !== f.summary.id; }));
    got.enabled = true;
  }
  var c = current();
  if (c && c.id === f.conversation_id) { if (got) renderSummary(c); else load(c); }
});
// The conversation became mine or stopped being mine (accepted, closed): the button follows.
handlers.on("conversation.assigned", function () { renderButton(current()); });
handlers.on("conversation.closed", function () { renderButton(current()); });

button.addEventListener("click", suggest);
