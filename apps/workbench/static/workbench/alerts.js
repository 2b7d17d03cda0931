/* New-work alerts (F8): a beep, a desktop notification while the tab is hidden, the count in the
 * title; each can be switched off and the choice is remembered in this browser. */
import { fmt, gettext as _ } from "../js/kefu/client.js";
import { $, isMine, state } from "./state.js";

var prefs = { sound: true, desktop: true, title: true };
try { Object.assign(prefs, JSON.parse(localStorage.getItem("wb.alerts") || "{}")); } catch (e) { /* defaults */ }

var onSelect = null; // set by main: a click on a notification opens its conversation
export function setNotificationHandler(fn) { onSelect = fn; }

export function initAlerts() {
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
  setInterval(function () { flashOn = !flashOn; updateTitle(); }, 1000);
}

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
    n.onclick = function () { window.focus(); if (convId && onSelect) onSelect(convId); n.close(); };
  } catch (e) { /* some browsers only allow service-worker notifications */ }
}

export function alertUser(title, body, convId) {
  beep();
  notify(title, body, convId);
}

var baseTitle = document.title, flashOn = false;
function totalUnread() {
  var n = 0;
  state.convs.forEach(function (c) { if (isMine(c)) n += c.unread; });
  return n;
}
export function updateTitle() {
  var n = totalUnread() + state.queue.size;
  if (!prefs.title || !n) { document.title = baseTitle; return; }
  var label = "(" + n + ") " + baseTitle;
  document.title = (document.hidden && flashOn) ? "【" + fmt(_("%(n)s new"), { n: n }) + "】" : label;
}
