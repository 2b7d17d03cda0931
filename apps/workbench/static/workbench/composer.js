/* The composer: text (Enter sends, Shift+Enter new line), files by picker, paste or drop, the
 * emoji picker, typing notices. Sends are idempotent by client_msg_id: over the socket first,
 * through REST when the socket is down or the ack does not come. */
import { api, el, gettext as _, uuid } from "../js/kefu/client.js";
import { assistSent } from "./panel.js";
import { markFailed, onMessage, renderConversation, showPending } from "./conversation.js";
import { qrKey, qrPopupOpen, updateQrPopup } from "./replies.js";
import { sendFrame } from "./realtime.js";
import { $, API, conv, state } from "./state.js";

var input = $("wb-input"), sendError = $("wb-send-error"), form = $("wb-composer");
var typingSentAt = 0;
var noteMode = false; // an internal note (staff only), set by the note switch (mentions.js)
export function setNoteMode(on) { noteMode = !!on; }

export function getDraft() { return input.value; }
export function setDraft(text) { input.value = text; }
export function focusComposer() { if (!form.hidden) input.focus(); }
export function clearSendError() { sendError.textContent = ""; }
export function setSendError(text) { sendError.textContent = text || ""; }

export function insertText(text) {
  var start = input.selectionStart || input.value.length, end = input.selectionEnd || input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  input.focus();
  input.setSelectionRange(start + text.length, start + text.length);
}

function sendText(text) {
  var c = state.current && conv(state.current);
  if (!c || !text.trim()) return;
  var m = { client_msg_id: uuid(), conversation_id: c.id, content_type: "text", body: text, sender_kind: "agent",
            sender_name: state.me.name, created_at: new Date().toISOString(), _pending: true };
  if (noteMode) m.visibility = "staff";
  showPending(c, m);
  deliver(m);
  if (!noteMode) assistSent(c, text);
}

export function deliver(m) {
  sendError.textContent = "";
  var frame = { type: "send", ref: m.client_msg_id, conversation_id: m.conversation_id, client_msg_id: m.client_msg_id, body: m.body };
  if (m.attachment_id) frame.attachment_id = m.attachment_id;
  if (m.visibility === "staff") frame.visibility = "staff";
  if (sendFrame(frame)) {
    // The ack (or the echo) confirms it; if neither comes the REST retry below still lands once.
    setTimeout(function () { if (conv(m.conversation_id).pending.has(m.client_msg_id)) restSend(m); }, 5000);
  } else {
    restSend(m);
  }
}

function restSend(m) {
  var c = conv(m.conversation_id);
  var body = { client_msg_id: m.client_msg_id, body: m.body };
  if (m.attachment_id) body.attachment_id = m.attachment_id;
  if (m.visibility === "staff") body.visibility = "staff";
  return api("POST", API.messages(c.id), body).then(function (res) {
    onMessage(res.message || res);
  }).catch(function (e) { markFailed(m.client_msg_id, e.message); });
}

export function resend(m) {
  m._failed = false; m._pending = true;
  deliver(m);
  if (state.current === m.conversation_id) renderConversation(conv(m.conversation_id));
}

/** The server said "unavailable, retry" (a database restart): send it again after the delay it gave,
 * with the same client_msg_id (written once). False when the message is not mine or not pending. */
export function retryPending(cid, delayMs) {
  var found = false;
  state.convs.forEach(function (c) {
    var m = c.pending.get(cid);
    if (m) { found = true; setTimeout(function () { if (c.pending.has(cid)) deliver(m); }, delayMs || 1000); }
  });
  return found;
}

/** Messages of mine still waiting for their ack: sent again after a reconnect (idempotent). */
export function redeliverPending() {
  state.convs.forEach(function (c) { c.pending.forEach(function (m) { if (!m._failed) deliver(m); }); });
}

function uploadFile(file) {
  var c = state.current && conv(state.current);
  if (!c || !file) return;
  var data = new FormData();
  data.append("file", file);
  data.append("client_msg_id", uuid());
  sendError.textContent = _("Uploading…");
  api("POST", API.upload(c.id), data, { form: true }).then(function (res) {
    sendError.textContent = "";
    if (res.message) { onMessage(res.message); return; }
    var att = res.attachment || res;
    var m = { client_msg_id: uuid(), conversation_id: c.id, content_type: (att.mime_type || "").indexOf("image/") === 0 ? "image" : "file",
              body: "", payload: { attachment: att }, attachment_id: att.id, sender_kind: "agent", sender_name: state.me.name,
              created_at: new Date().toISOString(), _pending: true };
    showPending(c, m);
    deliver(m);
  }).catch(function (e) { sendError.textContent = e.message; });
}

// --- emoji ------------------------------------------------------------------------------------
// The faces and signs people use in service chats; a click inserts at the cursor.
var EMOJI = ("😀 😁 😂 🤣 😊 😇 🙂 😉 😍 😘 😋 😎 🤔 🤗 🤝 🙏 👍 👌 👏 💪 ✌️ 👋 🙋 🙇 " +
  "😅 😆 😐 😑 😶 🙄 😏 😣 😥 😮 😯 😪 😫 😴 😌 😛 😜 😝 😒 😓 😔 😕 🙃 😲 ☹️ 🙁 😖 😞 😟 😤 😢 😭 😨 😩 😬 😰 😱 😳 😵 😡 😠 " +
  "❤️ 💔 💯 ✅ ❌ ❗ ❓ ⭐ 🌹 🎉 🎁 🔥 ☕ 🍵 📦 🚚 🚛 ✈️ 🏠 🏢 📍 📞 📱 💬 📝 📄 💰 🧾 ⏰ ⌛ 📅 🔔").split(" ");

function initEmoji() {
  var button = $("wb-emoji"), panel = $("wb-emoji-panel");
  EMOJI.forEach(function (e) {
    var b = el("button", { type: "button", class: "wb-emoji-item", "aria-label": e }, e);
    b.addEventListener("click", function () { insertText(e); panel.hidden = true; button.setAttribute("aria-expanded", "false"); });
    panel.appendChild(b);
  });
  button.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
    if (!panel.hidden) panel.querySelector("button").focus();
  });
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { panel.hidden = true; button.setAttribute("aria-expanded", "false"); button.focus(); }
  });
  document.addEventListener("click", function (ev) {
    if (!panel.hidden && !panel.contains(ev.target) && ev.target !== button) { panel.hidden = true; button.setAttribute("aria-expanded", "false"); }
  });
}

export function initComposer() {
  form.addEventListener("submit", function (ev) {
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
      form.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    updateQrPopup(input);
    if (state.current && !noteMode && Date.now() - typingSentAt > 3000) {
      typingSentAt = Date.now();
      sendFrame({ type: "typing", conversation_id: state.current, is_typing: true });
    }
  });
  $("wb-file").addEventListener("change", function (ev) { uploadFile(ev.target.files[0]); ev.target.value = ""; });
  input.addEventListener("paste", function (ev) {
    var items = (ev.clipboardData && ev.clipboardData.files) || [];
    if (items.length) { ev.preventDefault(); uploadFile(items[0]); }
  });
  ["dragover", "drop"].forEach(function (name) {
    form.addEventListener(name, function (ev) {
      ev.preventDefault();
      if (name === "drop" && ev.dataTransfer.files.length) uploadFile(ev.dataTransfer.files[0]);
    });
  });
  initEmoji();
}
