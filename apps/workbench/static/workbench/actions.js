/* Actions on the current conversation (F9): close with tags, tag, invite a rating, transfer. */
import { api, el, gettext as _ } from "../js/kefu/client.js";
import { renderMine } from "./lists.js";
import { renderHead } from "./conversation.js";
import { initTransfer, transferDialogOpened } from "./transfer.js";
import { $, API, conv, state } from "./state.js";

export function flash(msg, isError) {
  var b = el("div", { class: "wb-toast" + (isError ? " error" : ""), role: "status" }, msg);
  document.body.appendChild(b);
  setTimeout(function () { b.remove(); }, 3000);
}

function dialogError(dlg, msg) { dlg.querySelector(".wb-error-inline").textContent = msg || ""; }

function checked(form) {
  return Array.prototype.filter.call(form.querySelectorAll("input[name=tag]"), function (i) { return i.checked; })
    .map(function (i) { return Number(i.value); });
}

var openers = { "wb-dlg-transfer": transferDialogOpened }; // dialog id -> fn(dialog) run when it opens
export function openDialog(id) {
  var dlg = $(id);
  dialogError(dlg, "");
  dlg.querySelector("form").reset();
  if (openers[id]) openers[id](dlg);
  dlg.showModal();
}

/** The conversation ended here (closed by me, or the server says so). */
export function closedLocally(id) {
  var c = conv(id);
  c.data.status = "closed";
  if (state.current === id) renderHead(c);
  renderMine();
}

function onSubmit(formId, fn) {
  $(formId).addEventListener("submit", function (ev) {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    fn(ev.target, ev.target.closest("dialog"));
  });
}

export function initActions() {
  $("wb-act-close").addEventListener("click", function () { openDialog("wb-dlg-close"); });
  $("wb-act-tag").addEventListener("click", function () { openDialog("wb-dlg-tag"); });
  $("wb-act-transfer").addEventListener("click", function () { openDialog("wb-dlg-transfer"); });
  $("wb-act-rating").addEventListener("click", function () {
    api("POST", API.inviteRating(state.current), {}).then(function () { flash(_("Rating invitation sent.")); }).catch(function (e) { flash(e.message, true); });
  });
  onSubmit("wb-close-form", function (form, dlg) {
    var id = state.current;
    // The invitation goes out while the customer is still in the conversation, then it closes.
    var invite = form.invite_rating.checked ? api("POST", API.inviteRating(id), {}).catch(function () { return null; }) : Promise.resolve();
    invite.then(function () { return api("POST", API.close(id), { tags: checked(form), reason: "resolved" }); }).then(function () {
      dlg.close(); closedLocally(id);
    }).catch(function (e) { dialogError(dlg, e.message); });
  });
  onSubmit("wb-tag-form", function (form, dlg) {
    api("POST", API.tags(state.current), { tags: checked(form) }).then(function () { dlg.close(); flash(_("Tags saved.")); })
      .catch(function (e) { dialogError(dlg, e.message); });
  });
  initTransfer(dialogError, flash);
}

