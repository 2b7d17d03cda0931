/* Times and days as the tenant reckons them: the server sends its time zone and clock in the
 * bootstrap, so "today" and the date separators do not depend on the browser's zone or clock. */
import { gettext as _ } from "../js/kefu/client.js";
import { boot, now } from "./state.js";

var zone = boot.time_zone || undefined;
var lang = document.documentElement.lang || undefined;

export function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", timeZone: zone });
}

var dayFmt = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", timeZone: zone });
/** "YYYY-MM-DD" of an instant in the tenant's zone. */
export function dayKey(iso) { return dayFmt.format(typeof iso === "number" ? new Date(iso) : new Date(iso)); }

/** 今天 / 昨天 / the date, for the separators between days in a conversation. */
export function dayLabel(iso) {
  var key = dayKey(iso), today = dayKey(now()), yesterday = dayKey(now() - 86400000);
  if (key === today) return _("Today");
  if (key === yesterday) return _("Yesterday");
  return new Date(iso).toLocaleDateString(lang, { year: "numeric", month: "long", day: "numeric", weekday: "short", timeZone: zone });
}

export function fmtDateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: zone });
}

/** The browser's own zone when its clock reads differently from the tenant's (else ""). */
export function browserZoneIfDifferent() {
  if (!zone) return "";
  var local = "";
  try { local = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  var at = new Date(now());
  var opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  var theirs = at.toLocaleString("en-CA", Object.assign({ timeZone: zone }, opts));
  var mine = at.toLocaleString("en-CA", opts);
  return theirs === mine ? "" : (local || "?");
}

/** Says which zone the times are in, where the browser's differs (#wb-zone, filled from its template). */
export function showZoneNote() {
  var note = document.getElementById("wb-zone");
  var local = browserZoneIfDifferent();
  if (!note || !local) return;
  note.textContent = note.dataset.template.replace("%(tz)s", zone).replace("%(local)s", local);
  note.hidden = false;
}
