/* The agent socket (/ws/agent/) and the map of handlers for what the server sends. A feature
 * that needs an event adds its own handler with `handlers.on(type, fn)`; nothing else changes. */
import { Handlers, Socket, fmt, gettext as _, wsUrl } from "../js/kefu/client.js";
import { closedLocally, flash } from "./actions.js";
import { alertUser } from "./alerts.js";
import { redeliverPending, retryPending } from "./composer.js";
import { catchUp, markFailed, noticeLocal, onMessage, readMark, renderHead, renderTyping, subscribe } from "./conversation.js";
import { refreshMine, refreshQueue, renderMine, renderQueue } from "./lists.js";
import { statusChanged } from "./status.js";
import { $, API, conv, customerName, isMine, state } from "./state.js";
import { transferTargetsStale } from "./transfer.js";
import { refreshTransfers, renderTransfers, transferRequested } from "./transfers.js";

export var handlers = new Handlers();
var socket = null;

export function sendFrame(frame) { return socket ? socket.send(frame) : false; }

function banner(text) { var b = $("wb-banner"); b.textContent = text || ""; b.hidden = !text; }

/** The server follows my assigned conversations live from their current seq; each one this page
 * already holds is resumed from its own last seq, and the server replays the gap. */
function onHello(f) {
  (f.conversations || []).forEach(function (d) {
    var c = conv(d.id, { status: d.status });
    c.subscribed = true;
    if (c.loaded || c.lastSeq) sendFrame(c.seq.resumeFrame(c.id));
  });
  state.convs.forEach(function (c) {
    if ((c.loaded || c.lastSeq) && !c.subscribed && c.data.status !== "closed") subscribe(c);
  });
  redeliverPending();
}

function onAck(f) {
  var c = conv(f.conversation_id), m = c.pending.get(f.client_msg_id);
  if (!m) return;
  onMessage(Object.assign({}, m, { id: f.id, seq: f.seq, created_at: f.created_at, sender_id: state.me.id, _pending: false, _failed: false }));
}

function onTyping(f) {
  if (f.sender_kind !== "visitor" && f.sender_kind !== "customer") return;
  var c = conv(f.conversation_id);
  c.typing = f.is_typing ? { name: f.sender_name, until: Date.now() + 6000 } : null;
  if (state.current === c.id) renderTyping(c);
}

function onRead(f) {
  if (f.reader_kind !== "visitor") return;
  var c = conv(f.conversation_id);
  c.peerReadSeq = Math.max(c.peerReadSeq, f.seq);
  if (state.current === c.id) readMark(c);
}

/** conversation.updated / .assigned: where the conversation stands now. */
function onConversation(f) {
  var d = f.conversation;
  if (!d) return;
  if (d.status === "queued") {
    state.queue.set(d.id, Object.assign(state.queue.get(d.id) || {}, d));
    renderQueue();
    return;
  }
  state.queue.delete(d.id);
  var had = state.convs.has(d.id) && isMine(conv(d.id));
  var c = conv(d.id, d);
  if (f.type === "conversation.assigned" && f.agent_id !== undefined) c.data.assignee_id = f.agent_id;
  if (!had && isMine(c)) {
    alertUser(_("New conversation"), customerName(c.data), d.id);
    noticeLocal(d.id, _("The conversation was assigned to you."));
  } else if (had && !isMine(c) && c.data.status !== "closed") {
    noticeLocal(d.id, _("The conversation was transferred."));
  }
  if (state.current === d.id) renderHead(c);
  renderQueue(); renderMine();
}

function onClosed(f) {
  var id = Number(f.conversation_id);
  state.queue.delete(id);
  if (state.convs.has(id)) { closedLocally(id); noticeLocal(id, _("The conversation was closed.")); }
  renderQueue();
}

function onTransferRequested(f) {
  var tr = f.transfer || {};
  // Also published on the conversation group: only the receiving side gets a request row.
  if (tr.to_agent_id === state.me.id || (!tr.to_agent_id && tr.from_agent_id !== state.me.id)) transferRequested(tr, f.conversation);
}

function onTransferResolved(f) {
  state.transfers.delete(f.transfer_id); renderTransfers();
  var c = state.convs.get(Number(f.conversation_id));
  if (c && c.data.status === "transfer_pending" && !f.accepted) {
    c.data.status = "active";
    noticeLocal(c.id, _("The transfer was declined."));
    if (state.current === c.id) renderHead(c);
    renderMine();
  }
}

function onError(f) {
  if (f.retry && f.ref && retryPending(f.ref, f.retry_after_ms)) return;
  if (f.ref && markFailed(f.ref, f.message)) return;
  flash(f.message || _("Something went wrong."), true);
}

handlers.add({
  "hello": onHello,
  "ack": onAck,
  "pong": function () {},
  "message.created": function (f) { onMessage(f.message); },
  "subscribed": function (f) { conv(f.conversation_id).subscribed = true; },
  "resync": function (f) { catchUp(conv(f.conversation_id)); },
  "typing": onTyping,
  "read": onRead,
  "conversation.updated": onConversation,
  "conversation.assigned": onConversation,
  "conversation.queued": function () { refreshQueue(); },
  "queue.changed": function () { refreshQueue(); },
  "conversation.closed": onClosed,
  "conversation.transfer_requested": onTransferRequested,
  "conversation.transfer_resolved": onTransferResolved,
  "conversation.rating_requested": function (f) { noticeLocal(Number(f.conversation_id), _("The customer was invited to rate.")); },
  "conversation.rated": function (f) { noticeLocal(Number(f.conversation_id), fmt(_("Rating received: %(score)s"), { score: f.score || "" })); },
  "agent.status": function (f) { if (f.agent_id === state.me.id) statusChanged(f.status); transferTargetsStale(); },
  "error": onError,
});

export function connect() {
  socket = new Socket({
    url: function () { return wsUrl(API.ws); },
    handlers: handlers,
    onOpen: function (again) {
      state.connected = true;
      banner("");
      state.convs.forEach(function (c) { c.subscribed = false; });
      if (again) { refreshQueue(); refreshMine(catchUp); refreshTransfers(); }
    },
    onClose: function (_ev, delay) {
      state.connected = false;
      banner(fmt(_("Connection lost. Reconnecting in %(s)s s…"), { s: Math.ceil(delay / 1000) }));
    },
  }).start();
  // Lets the end-to-end tests cut the connection the way a network drop does.
  window.wbDropSocket = function () { socket.drop(); };
}
