/* Agent workbench: the entry module. Plain ES modules, no build step; each concern has its own
 * file (state, lists, conversation, composer, replies, panel, actions, transfers, realtime,
 * search, keyboard), and every incoming frame goes through realtime.js's map of handlers.
 *
 * Rules kept throughout: message content only ever reaches the page through textContent (never
 * innerHTML); every conversation keeps its own state keyed by seq; after a drop the socket
 * reconnects and each open conversation is caught up from its last seq. */
import { initActions } from "./actions.js";
import { initAlerts, setNotificationHandler } from "./alerts.js";
import { initComposer } from "./composer.js";
import { catchUp, initConversation, select } from "./conversation.js";
import { initKeyboard } from "./keyboard.js";
import { refreshMine, refreshQueue, renderMine, renderQueue, tick } from "./lists.js";
import { initPanel } from "./panel.js";
import "./platform.js"; // WeChat reply windows and mini-program cards in the customer panel
import "./visitor.js"; // the page the customer is on, live, and their visits' trail
import "./visitors.js"; // the Visitors tab: who is on the site now, and inviting them
import "./sla.js"; // SLA time left and colours in the lists, live breach alerts
import "./waiting.js"; // waiting for the customer (snooze) with a reminder
import "./followups.js"; // the Follow-ups tab: my follow-up tasks, completing and creating them
import "./recall.js"; // recalling my own messages (撤回), shown as recalled everywhere
import "./collision.js"; // who else has this conversation open, typing or holding a draft
import "./mentions.js"; // internal notes with @mentions, and the mentions of me
import "./ai.js"; // AI assistance: summaries of transfers and closes, reply suggestions
import { connect } from "./realtime.js";
import { initReplies, loadReplies } from "./replies.js";
import { initSearch } from "./search.js";
import { boot, conv, state } from "./state.js";
import { initStatus } from "./status.js";
import { showZoneNote } from "./time.js";
import { refreshTransfers } from "./transfers.js";

showZoneNote();
initAlerts();
setNotificationHandler(select);
initStatus(refreshQueue);
initConversation();
initComposer();
initReplies();
initPanel();
initActions();
initSearch();
initKeyboard();

boot.conversations.forEach(function (d) { var c = conv(d.id, d); c.unread = d.unread || 0; });
boot.queue.forEach(function (d) { state.queue.set(d.id, d); });
renderMine(); renderQueue();
loadReplies().catch(function () {});
refreshTransfers();
connect();
var m = /^#c(\d+)$/.exec(location.hash);
if (m && state.convs.has(Number(m[1]))) select(Number(m[1]));
setInterval(tick, 1000);
// Safety net against missed wake-ups: the database is the truth, re-read it now and then.
setInterval(function () { refreshMine(catchUp); }, 15000);
setInterval(function () { if (state.connected) { refreshQueue(); refreshTransfers(); } }, 30000);
window.wbSelect = select;
document.documentElement.dataset.wbReady = "1";
