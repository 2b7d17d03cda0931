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
