/* Workbench state shared by the modules: the bootstrap the page came with, every conversation
 * this page holds (keyed by id, each with its own SeqLog), the queue and the transfer requests. */
import { SeqLog } from "../js/kefu/client.js";

export var boot = JSON.parse(document.getElementById("wb-bootstrap").textContent);
export var $ = function (id) { return document.getElementById(id); };

export var API = {
  me: "/api/v1/me/",
  status: "/api/v1/me/status/",
  maxChats: "/api/v1/me/max-chats/",
  messages: function (id) { return "/api/v1/im/conversations/" + id + "/messages/"; },
  read: function (id) { return "/api/v1/im/conversations/" + id + "/read/"; },
  upload: function (id) { return "/api/v1/im/conversations/" + id + "/attachments/"; },
  queue: "/api/v1/conversations/queue/?limit=200",
  mine: "/api/v1/conversations/mine/",
  accept: function (id) { return "/api/v1/conversations/" + id + "/accept/"; },
  close: function (id) { return "/api/v1/conversations/" + id + "/close/"; },
  tags: function (id) { return "/api/v1/conversations/" + id + "/tags/"; },
  inviteRating: function (id) { return "/api/v1/conversations/" + id + "/invite-rating/"; },
  transfer: function (id) { return "/api/v1/conversations/" + id + "/transfer/"; },
  transferTargets: function (id) { return "/api/v1/conversations/" + id + "/transfer-targets/"; },
  transfers: "/api/v1/transfers/",
  transferAccept: function (id) { return "/api/v1/transfers/" + id + "/accept/"; },
  transferDecline: function (id) { return "/api/v1/transfers/" + id + "/decline/"; },
  customer: function (id) { return "/api/v1/workbench/conversations/" + id + "/customer/"; },
  search: "/api/v1/workbench/search/",
  assist: function (id) { return "/api/v1/kb/assist/" + id + "/"; },
  assistUsage: function (id) { return "/api/v1/kb/assist/" + id + "/usage/"; },
  captured: function (id) { return "/api/v1/kb/captured/" + id + "/"; },
  quickReplies: "/api/v1/workbench/quick-replies/",
  quickReply: function (id) { return "/api/v1/workbench/quick-replies/" + id + "/"; },
  quickReplyUse: function (id) { return "/api/v1/workbench/quick-replies/" + id + "/use/"; },
  ws: "/ws/agent/",
};
export var PAGE = 30;

export var state = {
  me: boot.me,
  convs: new Map(),     // id -> conversation record (see conv())
  queue: new Map(),     // id -> conversation dict
  transfers: new Map(), // transfer id -> {transfer, conversation}
  current: null,
  connected: false,
  replies: [],
};
window.wbState = state; // for tests and the console

/** The record of one conversation, created on first use; `data` is the server's dict. */
export function conv(id, data) {
  id = Number(id);
  var c = state.convs.get(id);
  if (!c) {
    c = { id: id, data: {}, messages: new Map(), pending: new Map(), seq: new SeqLog(0),
          hasMore: true, loaded: false, unread: 0, readSeq: 0, peerReadSeq: 0, draft: "", typing: null, scroll: null };
    Object.defineProperty(c, "lastSeq", { get: function () { return c.seq.last; } });
    Object.defineProperty(c, "minSeq", { get: function () { return c.seq.min; } });
    state.convs.set(id, c);
  }
  if (data) Object.assign(c.data, data);
  return c;
}

export function isMine(c) {
  return c.data.assignee_id === state.me.id && c.data.status !== "closed";
}

/** A customer as people call them: the server's display name (nickname, name or masked phone). */
export function customerName(d) {
  return (d && (d.customer_name || d.customer_display)) || "";
}

var serverSkew = Date.parse(boot.server_time) - Date.now();
export function now() { return Date.now() + serverSkew; }
